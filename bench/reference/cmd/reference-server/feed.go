package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// instance is one endpoint as the feed API takes it.
type instance struct {
	Address string `json:"address"`
	Port    uint32 `json:"port"`
	// Healthy defaults to true; false sends UNHEALTHY.
	Healthy *bool `json:"healthy,omitempty"`
}

// feed keeps each service's instances in order and pushes a new assignment on every change.
type feed struct {
	store     store
	mu        sync.Mutex
	instances map[string][]instance
}

// feedHandler serves the feed API:
//
//	PUT  /services/{name}/endpoints  body {"endpoints":[instance...]}  replaces the set
//	POST /services/{name}/endpoint   body instance                     adds or replaces one
//	GET  /ready                                                         200
func feedHandler(s store) http.Handler {
	f := &feed{store: s, instances: map[string][]instance{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("PUT /services/{name}/endpoints", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Endpoints []instance `json:"endpoints"`
		}
		if !decode(w, r, &body) {
			return
		}
		respond(w, f.replace(r.PathValue("name"), body.Endpoints))
	})
	mux.HandleFunc("POST /services/{name}/endpoint", func(w http.ResponseWriter, r *http.Request) {
		var one instance
		if !decode(w, r, &one) {
			return
		}
		respond(w, f.add(r.PathValue("name"), one))
	})
	return mux
}

func (f *feed) replace(service string, instances []instance) error {
	for _, one := range instances {
		if err := one.validate(); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.instances[service] = append([]instance(nil), instances...)
	return f.store.set(service, assignment(service, f.instances[service]))
}

func (f *feed) add(service string, one instance) error {
	if err := one.validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	list := f.instances[service]
	replaced := false
	for i := range list {
		if list[i].Address == one.Address && list[i].Port == one.Port {
			list[i], replaced = one, true
		}
	}
	if !replaced {
		list = append(list, one)
	}
	f.instances[service] = list
	return f.store.set(service, assignment(service, list))
}

func (i instance) validate() error {
	if net.ParseIP(i.Address) == nil || i.Port == 0 || i.Port > 65535 {
		return fmt.Errorf("bad endpoint %s:%d (want an IP literal and a port 1-65535)", i.Address, i.Port)
	}
	return nil
}

// assignment builds the ClusterLoadAssignment of a service: one locality, weight 1 each.
func assignment(service string, instances []instance) *endpoint.ClusterLoadAssignment {
	hosts := make([]*endpoint.LbEndpoint, 0, len(instances))
	for _, one := range instances {
		health := core.HealthStatus_HEALTHY
		if one.Healthy != nil && !*one.Healthy {
			health = core.HealthStatus_UNHEALTHY
		}
		hosts = append(hosts, &endpoint.LbEndpoint{
			HostIdentifier: &endpoint.LbEndpoint_Endpoint{Endpoint: &endpoint.Endpoint{
				Address: &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
					Address:       one.Address,
					PortSpecifier: &core.SocketAddress_PortValue{PortValue: one.Port},
				}}},
			}},
			HealthStatus:        health,
			LoadBalancingWeight: wrapperspb.UInt32(1),
		})
	}
	return &endpoint.ClusterLoadAssignment{
		ClusterName: service,
		Endpoints: []*endpoint.LocalityLbEndpoints{{
			Locality:            &core.Locality{Region: "dc1"},
			LbEndpoints:         hosts,
			LoadBalancingWeight: wrapperspb.UInt32(uint32(max(len(hosts), 1))),
		}},
	}
}

func decode(w http.ResponseWriter, r *http.Request, into any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<20)).Decode(into); err != nil {
		http.Error(w, "bad JSON: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func respond(w http.ResponseWriter, err error) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}`))
}
