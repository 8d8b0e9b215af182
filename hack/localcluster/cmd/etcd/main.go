// Command etcd is etcd's own server main; etcd's module carries replace
// directives, so it cannot be installed directly and is built here instead.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
