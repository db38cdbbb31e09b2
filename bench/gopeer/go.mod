module shortlink.dev/bench/gopeer

go 1.22
