// Command reference-server serves Envoy endpoints over ADS (state of the world) from
// go-control-plane's LinearCache or SnapshotCache, fed over a small HTTP API. The benchmark
// drives the same changes into it as into Consul, so the bridge is measured against it in the
// same run on the same machine.
//
// On start it prints one JSON line on stdout, {"xdsPort":N,"httpPort":N}, then serves until
// SIGTERM or SIGINT.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	endpointservice "github.com/envoyproxy/go-control-plane/envoy/service/endpoint/v3"
	server "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
)

func main() {
	kind := flag.String("cache", "linear", "cache to serve from: linear (LinearCache) or snapshot (SnapshotCache)")
	xdsAddr := flag.String("xds-addr", "127.0.0.1:0", "address of the gRPC xDS server (port 0: any free port)")
	httpAddr := flag.String("http-addr", "127.0.0.1:0", "address of the HTTP feed API (port 0: any free port)")
	flag.Parse()

	if err := run(*kind, *xdsAddr, *httpAddr); err != nil {
		fmt.Fprintf(os.Stderr, "reference-server: %v\n", err)
		os.Exit(1)
	}
}

func run(kind, xdsAddr, httpAddr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	store, err := newStore(ctx, kind)
	if err != nil {
		return err
	}
	xdsListener, err := net.Listen("tcp", xdsAddr)
	if err != nil {
		return fmt.Errorf("xds listener: %w", err)
	}
	httpListener, err := net.Listen("tcp", httpAddr)
	if err != nil {
		return fmt.Errorf("http listener: %w", err)
	}

	grpcServer := grpc.NewServer()
	xds := server.NewServer(ctx, store.cache(), nil)
	discoverygrpc.RegisterAggregatedDiscoveryServiceServer(grpcServer, xds)
	endpointservice.RegisterEndpointDiscoveryServiceServer(grpcServer, xds)
	httpServer := &http.Server{Handler: feedHandler(store)}

	errs := make(chan error, 2)
	go func() { errs <- grpcServer.Serve(xdsListener) }()
	go func() { errs <- httpServer.Serve(httpListener) }()

	ports := map[string]int{
		"xdsPort":  xdsListener.Addr().(*net.TCPAddr).Port,
		"httpPort": httpListener.Addr().(*net.TCPAddr).Port,
	}
	if err := json.NewEncoder(os.Stdout).Encode(ports); err != nil {
		return err
	}

	select {
	case <-ctx.Done():
	case err := <-errs:
		return err
	}
	grpcServer.Stop()
	return httpServer.Close()
}
