// Package thirdpartycrds names the API packages whose types the CRDs are generated from, so that
// `go mod tidy` keeps their modules (the generators load them by import path).
package thirdpartycrds

import (
	_ "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	_ "sigs.k8s.io/gateway-api/apis/v1"
)
