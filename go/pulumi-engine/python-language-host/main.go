// Command pulumi-language-python is kubernaut-redis's own Python language host for the Pulumi
// engine.
//
// The upstream host lives in a nested Go module that the Go module proxy reachable from our CI
// does not serve, so it cannot be built offline. This host implements the same gRPC protocol
// (pulumirpc.LanguageRuntime) for the one case the project needs: a plain Python program run by
// the ambient python3 (PULUMI_PYTHON_CMD overrides it), with no virtualenv management. It runs
// the SDK's own exec shim, pulumi-language-python-exec, installed next to this binary.
//
// The engine starts it as `pulumi-language-python [--logtostderr] [-v=N] [--tracing X] <engine>`
// and reads the gRPC port from the first line of stdout.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

const execShimName = "pulumi-language-python-exec"

// How often to check that the engine is still alive; the host exits when it is not, so a
// crashed engine does not leave language hosts behind.
const engineHealthInterval = 5 * time.Minute

func main() {
	tracing := flag.String("tracing", "", "Zipkin-compatible tracing endpoint (passed on to the program)")
	shim := flag.String("use-executor", "", "path of the exec shim (default: "+execShimName+" next to this binary)")
	flag.Parse()
	logging.InitLogging(false, 0, false)

	shimPath, err := resolveShim(*shim)
	if err != nil {
		cmdutil.Exit(err)
	}
	engineAddress := flag.Arg(0)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if engineAddress != "" {
		if err := rpcutil.Healthcheck(ctx, engineAddress, engineHealthInterval, stop); err != nil {
			cmdutil.Exit(fmt.Errorf("could not watch the engine at %s: %w", engineAddress, err))
		}
	}
	if err := serve(ctx, newHost(shimPath, engineAddress, *tracing, stop)); err != nil {
		cmdutil.Exit(err)
	}
}

// resolveShim finds the exec shim: the flag wins, otherwise it must sit next to this binary
// (symlinks resolved), which is where scripts/bootstrap-pulumi installs it.
func resolveShim(given string) (string, error) {
	if given != "" {
		return given, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("cannot locate this executable: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(self); err == nil {
		self = resolved
	}
	path := filepath.Join(filepath.Dir(self), execShimName)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("missing executor %s (scripts/bootstrap-pulumi installs it next to %s): %w",
			path, filepath.Base(self), err)
	}
	return path, nil
}

// serve starts the gRPC server on a loopback port chosen by the kernel, prints the port for
// the engine, and blocks until the server stops or ctx is cancelled.
func serve(ctx context.Context, host *languageHost) error {
	cancel := make(chan bool)
	go func() {
		<-ctx.Done()
		close(cancel)
	}()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		return fmt.Errorf("could not start the language host gRPC server: %w", err)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("language host gRPC server stopped: %w", err)
	}
	return nil
}
