package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
)

// languageHost serves pulumirpc.LanguageRuntime. Methods the project does not need (code
// generation, packing, plugins written in Python, ...) answer Unimplemented through the
// embedded type, which the engine treats as "not supported by this host".
type languageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	shimPath string
	tracing  string
	// stop shuts the host down; used when the engine stops answering health checks.
	stop context.CancelFunc

	mu            sync.Mutex
	engineAddress string
}

func newHost(shimPath, engineAddress, tracing string, stop context.CancelFunc) *languageHost {
	return &languageHost{shimPath: shimPath, engineAddress: engineAddress, tracing: tracing, stop: stop}
}

func (h *languageHost) engine() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.engineAddress
}

// Handshake is how an engine that attaches to an already running host tells it where the
// engine listens (a host it starts itself gets the address as its argument instead).
func (h *languageHost) Handshake(ctx context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	h.engineAddress = req.GetEngineAddress()
	h.mu.Unlock()
	if err := rpcutil.Healthcheck(context.Background(), req.GetEngineAddress(), engineHealthInterval, h.stop); err != nil {
		return nil, fmt.Errorf("could not watch the engine at %s: %w", req.GetEngineAddress(), err)
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *languageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

func (h *languageHost) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	py, err := findPython()
	if err != nil {
		return nil, err
	}
	ver, err := pythonVersion(ctx, py)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{Executable: py, Version: ver}, nil
}

func (h *languageHost) GetRequiredPackages(ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	if err := checkRuntimeOptions(req.GetInfo()); err != nil {
		return nil, err
	}
	deps, err := requiredResourcePlugins(ctx)
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetRequiredPackagesResponse{}
	for _, d := range deps {
		resp.Packages = append(resp.Packages, &pulumirpc.PackageDependency{
			Name: d.name, Kind: "resource", Version: d.version, Server: d.server,
		})
	}
	return resp, nil
}

// GetRequiredPlugins is the older form of GetRequiredPackages; engines fall back to it.
func (h *languageHost) GetRequiredPlugins(ctx context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	if err := checkRuntimeOptions(req.GetInfo()); err != nil {
		return nil, err
	}
	deps, err := requiredResourcePlugins(ctx)
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetRequiredPluginsResponse{}
	for _, d := range deps {
		resp.Plugins = append(resp.Plugins, &pulumirpc.PluginDependency{
			Name: d.name, Kind: "resource", Version: d.version, Server: d.server,
		})
	}
	return resp, nil
}

func (h *languageHost) GetProgramDependencies(ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	pkgs, err := listPackages(ctx, req.GetTransitiveDependencies())
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	for _, p := range pkgs {
		resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: p.Name, Version: p.Version})
	}
	return resp, nil
}

// checkRuntimeOptions refuses Pulumi.yaml runtime options this host does not implement, so a
// project asking for a virtualenv or another toolchain fails loudly instead of silently
// running in the ambient interpreter.
func checkRuntimeOptions(info *pulumirpc.ProgramInfo) error {
	if info == nil || info.GetOptions() == nil {
		return nil
	}
	for key, value := range info.GetOptions().AsMap() {
		if key == "toolchain" && value == "pip" {
			continue
		}
		return fmt.Errorf("runtime option %q=%v in Pulumi.yaml is not supported: kubernaut-redis's "+
			"language host runs the ambient python3 (set PULUMI_PYTHON_CMD to choose another)", key, value)
	}
	return nil
}
