// Command etcd is etcd's own server main, built inside this module so that it is compiled with
// the exact go.etcd.io/etcd/server/v3 version that k8s.io/kubernetes requires.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
