package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// The exec shim exits with this code after it has already reported the error to the engine;
// the host then asks the engine to stop without printing a second, vaguer message.
const exitAfterUserActionableMessage = 32

// Run executes the program once (a preview or an update) through the SDK's exec shim.
func (h *languageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	if err := checkRuntimeOptions(req.GetInfo()); err != nil {
		return nil, err
	}
	env, err := configEnvironment(req)
	if err != nil {
		return nil, err
	}
	// -u: unbuffered, so the program's prints reach the engine in order and survive a crash.
	args := append([]string{"-u", h.shimPath}, h.shimArguments(req)...)
	cmd, err := pythonCommand(ctx, args...)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), env...)
	logging.V(5).Infof("running program: %s %v", cmd.Path, args)
	return runResult(cmd.Run()), nil
}

// shimArguments mirrors the command line of pulumi-language-python-exec: flags, then the
// program (a directory or file relative to --pwd), then the program's own arguments.
func (h *languageHost) shimArguments(req *pulumirpc.RunRequest) []string {
	var args []string
	add := func(flag, value string) {
		if value != "" {
			args = append(args, "--"+flag, value)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engine())
	add("project", req.GetProject())
	add("root_directory", req.GetInfo().GetRootDirectory())
	add("stack", req.GetStack())
	add("pwd", req.GetPwd())
	add("dry_run", strconv.FormatBool(req.GetDryRun()))
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	add("tracing", h.tracing)
	add("organization", req.GetOrganization())
	entry := req.GetInfo().GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	return append(args, req.GetArgs()...)
}

// configEnvironment passes stack config to the SDK the way it expects it: PULUMI_CONFIG holds
// every value as JSON (secrets already decrypted by the engine) and PULUMI_CONFIG_SECRET_KEYS
// names the keys the SDK must keep wrapped as secrets. Environment, not argv, so values do not
// show up in process lists.
func configEnvironment(req *pulumirpc.RunRequest) ([]string, error) {
	config := req.GetConfig()
	if config == nil {
		config = map[string]string{}
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return nil, fmt.Errorf("cannot serialise stack config: %w", err)
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretKeysJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, fmt.Errorf("cannot serialise secret config keys: %w", err)
	}
	return []string{"PULUMI_CONFIG=" + string(configJSON), "PULUMI_CONFIG_SECRET_KEYS=" + string(secretKeysJSON)}, nil
}

// runResult turns the program's exit into the engine's answer: "" means success, Bail means
// the error was already shown, anything else is the error text the engine prints.
func runResult(err error) *pulumirpc.RunResponse {
	if err == nil {
		return &pulumirpc.RunResponse{}
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run the Python program: %v", err)}
	}
	if exitErr.ExitCode() == exitAfterUserActionableMessage {
		return &pulumirpc.RunResponse{Bail: true}
	}
	if exitErr.ExitCode() < 0 {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("the Python program was stopped: %v", exitErr)}
	}
	return &pulumirpc.RunResponse{Error: fmt.Sprintf("the Python program exited with code %d", exitErr.ExitCode())}
}

// InstallDependencies runs `pip install -r requirements.txt` for the program, streaming pip's
// output to the engine, which shows it to the user (`pulumi install`, Automation API installs).
func (h *languageHost) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	if err := checkRuntimeOptions(req.GetInfo()); err != nil {
		return err
	}
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()
	if err := installRequirements(server.Context(), programDirectory(req), stdout, stderr); err != nil {
		return err
	}
	return closer.Close()
}

func programDirectory(req *pulumirpc.InstallDependenciesRequest) string {
	if dir := req.GetInfo().GetProgramDirectory(); dir != "" {
		return dir
	}
	return req.GetDirectory() //nolint:staticcheck // older engines only fill this field
}

func installRequirements(ctx context.Context, dir string, stdout, stderr io.Writer) error {
	requirements := filepath.Join(dir, "requirements.txt")
	if _, err := os.Stat(requirements); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(stdout, "No requirements.txt in %s: nothing to install.\n", dir)
		return nil
	}
	cmd, err := pythonCommand(ctx, "-m", "pip", "install", "--disable-pip-version-check", "-r", requirements)
	if err != nil {
		return err
	}
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = stdout, stderr
	fmt.Fprintf(stdout, "Installing dependencies with %s -m pip install -r %s\n", cmd.Path, requirements)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pip install -r %s failed: %w", requirements, err)
	}
	fmt.Fprintln(stdout, "Finished installing dependencies.")
	return nil
}
