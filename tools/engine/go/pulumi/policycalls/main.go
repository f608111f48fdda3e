// policy-calls makes the calls the Pulumi engine makes to a policy pack's analyzer, with the
// engine's own analyzer client (sdk/v3 plugin.NewAnalyzerWithClient, the version the CLI in
// this module is built from), and times them. It is the benchmark's stand-in for a preview:
// the engine's deployment loop handles one registration at a time and, for each resource,
// calls Remediate and then Analyze (pkg/v3 resource/deploy/step_generator.go); AnalyzeStack
// follows once with every resource.
//
//	policy-calls PORT RESOURCES.json
//
// RESOURCES.json: [{"urn", "type", "name", "parent", "dependencies", "properties",
// "provider": {"urn", "type", "name"} | null}], written by tools/bench/engine_calls.py.
// Prints one JSON object: resources, seconds of the per-resource calls and of AnalyzeStack,
// and the number of diagnostics. Exit status 1 on any error, with the error on stderr.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// maxMessage matches the analyzer's own ceiling (pulumi-policy's server options).
const maxMessage = 400 << 20

type providerRef struct {
	URN  string `json:"urn"`
	Type string `json:"type"`
	Name string `json:"name"`
}

type inputResource struct {
	URN          string                 `json:"urn"`
	Type         string                 `json:"type"`
	Name         string                 `json:"name"`
	Parent       string                 `json:"parent"`
	Dependencies []string               `json:"dependencies"`
	Properties   map[string]interface{} `json:"properties"`
	Provider     *providerRef           `json:"provider"`
}

type result struct {
	Resources   int     `json:"resources"`
	PerResource float64 `json:"per_resource_s"`
	Stack       float64 `json:"stack_s"`
	Diagnostics int     `json:"diagnostics"`
}

func main() {
	if len(os.Args) != 3 {
		fail(fmt.Errorf("usage: policy-calls PORT RESOURCES.json"))
	}
	out, err := run(os.Args[1], os.Args[2])
	if err != nil {
		fail(err)
	}
	fail(json.NewEncoder(os.Stdout).Encode(out))
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "policy-calls:", err)
		os.Exit(1)
	}
}

func run(port, path string) (result, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return result{}, err
	}
	var inputs []inputResource
	if err := json.Unmarshal(raw, &inputs); err != nil {
		return result{}, fmt.Errorf("%s: %w", path, err)
	}
	conn, err := grpc.NewClient("127.0.0.1:"+port,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessage), grpc.MaxCallSendMsgSize(maxMessage)))
	if err != nil {
		return result{}, err
	}
	defer conn.Close()
	analyzer := plugin.NewAnalyzerWithClient("policy-pack", pulumirpc.NewAnalyzerClient(conn))
	ctx := context.Background()
	// The engine asks once (the client caches it) before its first Remediate.
	if _, err := analyzer.GetAnalyzerInfo(ctx); err != nil {
		return result{}, fmt.Errorf("GetAnalyzerInfo: %w", err)
	}

	resources := make([]plugin.AnalyzerStackResource, len(inputs))
	for i, in := range inputs {
		resources[i] = stackResource(in)
	}
	out := result{Resources: len(resources)}
	start := time.Now()
	for _, r := range resources {
		if _, err := analyzer.Remediate(ctx, r.AnalyzerResource); err != nil {
			return result{}, fmt.Errorf("Remediate(%s): %w", r.URN, err)
		}
		resp, err := analyzer.Analyze(ctx, r.AnalyzerResource)
		if err != nil {
			return result{}, fmt.Errorf("Analyze(%s): %w", r.URN, err)
		}
		out.Diagnostics += len(resp.Diagnostics)
	}
	out.PerResource = time.Since(start).Seconds()
	start = time.Now()
	resp, err := analyzer.AnalyzeStack(ctx, resources)
	if err != nil {
		return result{}, fmt.Errorf("AnalyzeStack: %w", err)
	}
	out.Stack = time.Since(start).Seconds()
	out.Diagnostics += len(resp.Diagnostics)
	return out, nil
}

func stackResource(in inputResource) plugin.AnalyzerStackResource {
	r := plugin.AnalyzerResource{
		URN:        resource.URN(in.URN),
		Type:       tokens.Type(in.Type),
		Name:       in.Name,
		Properties: resource.NewPropertyMapFromMap(in.Properties),
		Options:    plugin.AnalyzerResourceOptions{Parent: resource.URN(in.Parent)},
	}
	if in.Provider != nil {
		r.Provider = &plugin.AnalyzerProviderResource{
			URN: resource.URN(in.Provider.URN), Type: tokens.Type(in.Provider.Type), Name: in.Provider.Name,
		}
	}
	deps := make([]resource.URN, len(in.Dependencies))
	for i, d := range in.Dependencies {
		deps[i] = resource.URN(d)
	}
	return plugin.AnalyzerStackResource{AnalyzerResource: r, Parent: resource.URN(in.Parent), Dependencies: deps}
}
