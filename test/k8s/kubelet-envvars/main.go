// kubelet-envvars: the service environment variables the real kubelet (k8s.io/kubernetes
// v1.34's pkg/kubelet/envvars) gives a container, for Services read from a real apiserver,
// without running a kubelet. test/k8s/build.sh builds it next to kubectl; the k8s tests compare
// its answer with test/helpers/kubelet-env.ts.
//
//	kubectl get services -A -o json | kubelet-envvars NAMESPACE [true|false]
//
// Reads a v1.ServiceList on stdin; prints a JSON object NAME -> value. The second argument is
// the pod's enableServiceLinks (default true). The choice of Services is
// (*Kubelet).getServiceEnvVarMap of pkg/kubelet/kubelet_pods.go (an unexported method, so
// copied here): Services with a cluster IP, `kubernetes` of namespace default always, the
// pod's namespace's others only with enableServiceLinks; FromServices is the kubelet's own.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	v1 "k8s.io/api/core/v1"
	v1helper "k8s.io/kubernetes/pkg/apis/core/v1/helper"
	"k8s.io/kubernetes/pkg/kubelet/envvars"
)

func main() {
	if len(os.Args) < 2 || len(os.Args) > 3 {
		fmt.Fprintln(os.Stderr, "usage: kubelet-envvars NAMESPACE [true|false] < services.json")
		os.Exit(2)
	}
	ns, links := os.Args[1], len(os.Args) < 3 || os.Args[2] == "true"
	var list v1.ServiceList
	if err := json.NewDecoder(os.Stdin).Decode(&list); err != nil {
		fmt.Fprintln(os.Stderr, "kubelet-envvars: reading the ServiceList:", err)
		os.Exit(1)
	}
	serviceMap := map[string]*v1.Service{}
	for i := range list.Items {
		service := &list.Items[i]
		if !v1helper.IsServiceIPSet(service) {
			continue
		}
		if service.Namespace == "default" && service.Name == "kubernetes" {
			if _, exists := serviceMap[service.Name]; !exists {
				serviceMap[service.Name] = service
			}
		} else if service.Namespace == ns && links {
			serviceMap[service.Name] = service
		}
	}
	mapped := []*v1.Service{}
	for _, s := range serviceMap {
		mapped = append(mapped, s)
	}
	m := map[string]string{}
	for _, e := range envvars.FromServices(mapped) {
		m[e.Name] = e.Value
	}
	out, _ := json.MarshalIndent(m, "", "  ")
	fmt.Println(string(out))
}
