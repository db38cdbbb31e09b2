// Command gopeer is the Go peer of `make bench`: the redirect server a Go shortener
// (golink and others) amounts to, a map lookup and http.Redirect on net/http, so the
// redirector is measured against what users would pick instead, in the same run.
package main

import (
	"bufio"
	"flag"
	"log"
	"net/http"
	"os"
	"strings"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to serve on")
	table := flag.String("table", "", "file of `slug<TAB>url` lines")
	flag.Parse()

	targets, err := load(*table)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("serving %d links on %s", len(targets), *listen)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target, ok := targets[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.Redirect(w, r, target, http.StatusFound)
	})
	log.Fatal(http.ListenAndServe(*listen, handler))
}

func load(path string) (map[string]string, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	targets := make(map[string]string)
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		slug, target, found := strings.Cut(scanner.Text(), "\t")
		if found {
			targets[slug] = target
		}
	}
	return targets, scanner.Err()
}
