package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
)

// pythonPackage is one entry of `pip list --format json --verbose`.
type pythonPackage struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Location string `json:"location"`
}

// resourcePlugin is a resource plugin the program's Python packages need, e.g. kubernetes
// v4.25.0 for the pulumi-kubernetes 4.25.0 wheel.
type resourcePlugin struct {
	name, version, server string
}

// Pulumi packages that have no resource plugin but ship no pulumi-plugin.json saying so.
var packagesWithoutPlugins = map[string]bool{
	"pulumi-policy": true, "pulumi_policy": true, "pulumi-esc-sdk": true, "pulumi_esc_sdk": true,
}

// findPython returns the interpreter that runs programs: PULUMI_PYTHON_CMD, else python3 on
// PATH (the activated virtualenv when scripts/pulumi-env was sourced).
func findPython() (string, error) {
	name := os.Getenv("PULUMI_PYTHON_CMD")
	if name == "" {
		name = "python3"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("python interpreter %q not found on PATH (set PULUMI_PYTHON_CMD or activate "+
			"the project's virtualenv): %w", name, err)
	}
	return path, nil
}

func pythonCommand(ctx context.Context, args ...string) (*exec.Cmd, error) {
	py, err := findPython()
	if err != nil {
		return nil, err
	}
	return exec.CommandContext(ctx, py, args...), nil
}

// pythonOutput runs python with args and returns stdout; stderr goes into the error so a
// missing pip or a broken environment is reported with pip's own words.
func pythonOutput(ctx context.Context, args ...string) ([]byte, error) {
	cmd, err := pythonCommand(ctx, args...)
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("`%s %s` failed: %w: %s", cmd.Path, strings.Join(args, " "), err,
			strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func pythonVersion(ctx context.Context, py string) (string, error) {
	out, err := exec.CommandContext(ctx, py, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("`%s --version` failed: %w", py, err)
	}
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "Python")), nil
}

// listPackages asks pip for the installed distributions. --verbose adds each one's install
// location, where its pulumi-plugin.json lives; without transitive only the packages nothing
// else depends on are listed (the program's direct requirements, as far as pip can tell).
func listPackages(ctx context.Context, transitive bool) ([]pythonPackage, error) {
	args := []string{"-m", "pip", "list", "--format", "json", "--verbose", "--disable-pip-version-check"}
	if !transitive {
		args = append(args, "--not-required")
	}
	out, err := pythonOutput(ctx, args...)
	if err != nil {
		return nil, err
	}
	var pkgs []pythonPackage
	if err := json.Unmarshal(out, &pkgs); err != nil {
		return nil, fmt.Errorf("cannot parse `pip list --format json` output: %w", err)
	}
	return pkgs, nil
}

// requiredResourcePlugins maps the installed Pulumi packages to the resource plugins the
// engine must load, the way upstream does: pulumi-plugin.json inside the package wins, the
// package name and version are the fallback.
func requiredResourcePlugins(ctx context.Context) ([]resourcePlugin, error) {
	pkgs, err := listPackages(ctx, true)
	if err != nil {
		return nil, err
	}
	var plugins []resourcePlugin
	for _, pkg := range pkgs {
		p, err := resourcePluginOf(pkg)
		if err != nil {
			return nil, err
		}
		if p != nil {
			logging.V(5).Infof("package %s %s needs resource plugin %s %s", pkg.Name, pkg.Version, p.name, p.version)
			plugins = append(plugins, *p)
		}
	}
	return plugins, nil
}

func resourcePluginOf(pkg pythonPackage) (*resourcePlugin, error) {
	if packagesWithoutPlugins[pkg.Name] {
		return nil, nil
	}
	meta, err := readPluginJSON(pkg)
	if err != nil {
		return nil, err
	}
	isPulumiPackage := strings.HasPrefix(pkg.Name, "pulumi-") || strings.HasPrefix(pkg.Name, "pulumi_")
	switch {
	case meta != nil && !meta.Resource:
		return nil, nil
	case meta == nil && !isPulumiPackage:
		return nil, nil
	}
	p := resourcePlugin{}
	if meta != nil {
		p = resourcePlugin{name: meta.Name, version: meta.Version, server: meta.Server}
	}
	if p.name == "" {
		p.name = strings.TrimPrefix(strings.TrimPrefix(pkg.Name, "pulumi-"), "pulumi_")
	}
	if p.version == "" {
		v, ok := pluginVersionOf(pkg.Version)
		if !ok {
			// Upstream skips such packages too: a PEP 440 pre-release cannot be mapped back to
			// the plugin's semver build metadata.
			logging.V(5).Infof("skipping %s: cannot derive a plugin version from %s", pkg.Name, pkg.Version)
			return nil, nil
		}
		p.version = v
	}
	if !strings.HasPrefix(p.version, "v") {
		p.version = "v" + p.version
	}
	return &p, nil
}

// readPluginJSON reads <location>/<module>/pulumi-plugin.json; nil when the package has none.
func readPluginJSON(pkg pythonPackage) (*plugin.PulumiPluginJSON, error) {
	if pkg.Location == "" {
		return nil, nil
	}
	module := strings.ReplaceAll(pkg.Name, "-", "_")
	meta, err := plugin.LoadPulumiPluginJSON(filepath.Join(pkg.Location, module, "pulumi-plugin.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading pulumi-plugin.json of %s: %w", pkg.Name, err)
	}
	return meta, nil
}

var releaseVersion = regexp.MustCompile(`^(\d+)(?:\.(\d+))?(?:\.(\d+))?$`)

// pluginVersionOf turns a plain release version ("4.25", "4.25.0") into semver; anything
// else (pre-releases, post releases, epochs) is reported as not derivable.
func pluginVersionOf(pep440 string) (string, bool) {
	m := releaseVersion.FindStringSubmatch(pep440)
	if m == nil {
		return "", false
	}
	parts := []string{m[1], m[2], m[3]}
	for i := range parts {
		if parts[i] == "" {
			parts[i] = "0"
		}
	}
	return strings.Join(parts, "."), true
}
