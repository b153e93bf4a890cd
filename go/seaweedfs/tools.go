//go:build tools

// Package tools pins the lab's S3-compatible object store: SeaweedFS's `weed`
// (github.com/seaweedfs/seaweedfs/weed, a commit of its main branch: version 4.53), run as
// `weed server -s3` by lab/objectstore.py. It keeps every module weed's main package needs in
// go.mod/go.sum, so that a build with -mod=readonly resolves nothing new. SeaweedFS's own go.mod
// replaces github.com/tyler-smith/go-bip39 with github.com/cosmos/go-bip39; that replace applies
// only where seaweedfs is the main module, and this build does without it (the module proxy
// still serves tyler-smith/go-bip39 v1.1.0).
package tools

import (
	_ "github.com/seaweedfs/seaweedfs/weed"
)
