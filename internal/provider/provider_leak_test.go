package provider

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

// Credentials never appear in state, plan output or logs, and one registry's credentials are
// never sent to another host, as the provider documentation (docs/index.md) promises.

// secretForms returns each secret as written and base64-encoded (standard and URL alphabets).
// Pass "user:password" too (see basicForms): its base64 is what a Basic Authorization header
// and a Docker config "auth" entry carry.
func secretForms(secrets ...string) []string {
	var out []string
	for _, s := range secrets {
		if s == "" {
			continue
		}
		out = append(out, s, base64.StdEncoding.EncodeToString([]byte(s)), base64.URLEncoding.EncodeToString([]byte(s)))
	}
	return out
}

// basicForms returns the password and the encodings of "user:password" (Basic header, Docker
// config "auth").
func basicForms(eps ...*registrytest.Endpoint) []string {
	var out []string
	for _, e := range eps {
		out = append(out, e.Password, e.Username+":"+e.Password)
	}
	return secretForms(out...)
}

// findSecret returns the first of forms that data contains, also inside base64-encoded JSON
// strings nested in data (Terraform's private state is base64 JSON holding base64 values).
func findSecret(data []byte, forms []string) (string, bool) {
	return findSecretDepth(data, forms, 0)
}

func findSecretDepth(data []byte, forms []string, depth int) (string, bool) {
	for _, f := range forms {
		if strings.Contains(string(data), f) {
			return f, true
		}
	}
	if depth > 3 {
		return "", false
	}
	var doc any
	if json.Unmarshal(data, &doc) != nil {
		return "", false
	}
	var found string
	walkStrings(doc, func(s string) bool {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding} {
			if dec, err := enc.DecodeString(s); err == nil && len(dec) > 0 {
				if f, ok := findSecretDepth(dec, forms, depth+1); ok {
					found = f
					return false
				}
			}
		}
		return true
	})
	return found, found != ""
}

// walkStrings calls fn on every string in a decoded JSON document until fn returns false.
func walkStrings(v any, fn func(string) bool) bool {
	switch v := v.(type) {
	case string:
		return fn(v)
	case []any:
		for _, e := range v {
			if !walkStrings(e, fn) {
				return false
			}
		}
	case map[string]any:
		for k, e := range v {
			if !fn(k) || !walkStrings(e, fn) {
				return false
			}
		}
	}
	return true
}

// expectNoSecretInPlan checks that the JSON plan (what `terraform show -json` prints, and what
// plan output is rendered from) contains none of the forms, outside "variables": Terraform puts
// the values of root module variables there, sensitive ones included, and the provider has no
// say in it. (Likewise "configuration" holds constant_value for arguments written literally,
// sensitive provider arguments included; the test uses variables.)
func expectNoSecretInPlan(forms []string) plancheck.PlanCheck {
	return planFuncCheck(func(plan *tfjson.Plan) error {
		raw, err := json.Marshal(plan)
		if err != nil {
			return err
		}
		var sections map[string]json.RawMessage
		if err := json.Unmarshal(raw, &sections); err != nil {
			return err
		}
		for name, section := range sections {
			if name == "variables" {
				continue
			}
			if f, ok := findSecret(section, forms); ok {
				return fmt.Errorf("the plan's %q contains a secret (%q):\n%s", name, f, section)
			}
		}
		return nil
	})
}

// stateFiles returns the Terraform state files (and their backups) under dir.
func stateFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.Contains(d.Name(), ".tfstate") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// checkNoSecretInState checks the state as the test framework reads it and every raw state
// file in workDir, private state included.
func checkNoSecretInState(t *testing.T, workDir string, forms []string) func(*terraform.State) error {
	return func(s *terraform.State) error {
		raw, err := json.Marshal(s)
		if err != nil {
			return err
		}
		if f, ok := findSecret(raw, forms); ok {
			return fmt.Errorf("the state contains a secret (%q)", f)
		}
		return checkNoSecretInStateFiles(t, workDir, forms)
	}
}

func checkNoSecretInStateFiles(t *testing.T, workDir string, forms []string) error {
	files := stateFiles(t, workDir)
	if len(files) == 0 {
		return fmt.Errorf("no state file under %s", workDir)
	}
	for _, path := range files {
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if f, ok := findSecret(raw, forms); ok {
			return fmt.Errorf("%s contains a secret (%q):\n%s", path, f, raw)
		}
	}
	return nil
}

// checkPrivateStateIsTheRecord checks that the private state of the mirror in the raw state
// files is the mirror record: digests and sizes, and nothing about credentials.
func checkPrivateStateIsTheRecord(t *testing.T, workDir string) func(*terraform.State) error {
	return func(*terraform.State) error {
		checked := 0
		for _, path := range stateFiles(t, workDir) {
			raw, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			var st struct {
				Resources []struct {
					Type      string
					Instances []struct {
						Private string `json:"private"`
					}
				}
			}
			if err := json.Unmarshal(raw, &st); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			for _, r := range st.Resources {
				if r.Type != "zarf_image_mirror" {
					continue
				}
				for _, inst := range r.Instances {
					outer, err := base64.StdEncoding.DecodeString(inst.Private)
					if err != nil {
						return fmt.Errorf("%s: private state is not base64: %w", path, err)
					}
					var keys map[string]json.RawMessage
					if err := json.Unmarshal(outer, &keys); err != nil {
						return fmt.Errorf("%s: private state %s: %w", path, outer, err)
					}
					for k := range keys {
						if k != recordKey {
							return fmt.Errorf("%s: private state holds key %q besides %q: %s", path, k, recordKey, outer)
						}
					}
					rec := string(keys[recordKey])
					if dec, err := base64.StdEncoding.DecodeString(strings.Trim(rec, `"`)); err == nil {
						rec = string(dec)
					}
					for _, word := range []string{"auth", "password", "username", "token", "secret"} {
						if strings.Contains(strings.ToLower(rec), word) {
							return fmt.Errorf("%s: the mirror record mentions %q: %s", path, word, rec)
						}
					}
					if !strings.Contains(rec, "sha256:") {
						return fmt.Errorf("%s: the mirror record holds no digest: %s", path, rec)
					}
					checked++
				}
			}
		}
		if checked == 0 {
			return fmt.Errorf("no zarf_image_mirror instance with private state under %s", workDir)
		}
		return nil
	}
}

// TestAccProviderAuth_secretsStayOutOfStatePlanAndLogs mirrors between two authenticated TLS
// registries with Terraform and the provider logging at TRACE, and searches the plans, the
// state files (private state included, before and after destroy) and the log for the
// passwords and their Basic encodings.
func TestAccProviderAuth_secretsStayOutOfStatePlanAndLogs(t *testing.T) {
	src := startAuthTLS(t, "src-user", "src-Leak-5ecret-1f2e7a")
	dst := startAuthTLS(t, "dst-user", "dst-Leak-5ecret-9a8b6c")
	desc := registrytest.PushIndex(t, src.Ref("app/web:1.0"), authImages, src.RemoteOptions()...)
	forms := basicForms(&src.Endpoint, &dst.Endpoint)

	// TF_ACC_LOG_PATH sends the Terraform CLI's log and the log of the provider under test
	// (served in this process, through terraform-plugin-log's test sink) to one file, at TRACE.
	// TF_LOG and TF_LOG_PATH alone would capture only the provider under test.
	logPath := filepath.Join(t.TempDir(), "terraform.log")
	t.Setenv("TF_ACC_LOG", "TRACE")
	t.Setenv("TF_ACC_LOG_PATH", logPath)
	t.Setenv("TF_LOG", "TRACE")
	// Keep the working directory, so the state files (and their backups) can be searched
	// after destroy too.
	workDir := t.TempDir()
	t.Setenv("TF_ACC_PERSIST_WORKING_DIR", "1")

	// The passwords come from sensitive variables, as the documentation recommends: a password
	// written literally in the configuration is in the configuration's text, which the test
	// harness logs at TRACE and Terraform copies into the JSON plan ("configuration").
	provider := providerBlock{
		caPEM: caBundle(&src.Endpoint, &dst.Endpoint),
		auth: []authBlock{
			{address: src.Host, username: src.Username, passwordExpr: "var.src_password"},
			{address: dst.Host, username: dst.Username, passwordExpr: "var.dst_password"},
		},
	}
	variable := "variable \"src_password\" {\n  type      = string\n  sensitive = true\n}\n" +
		"variable \"dst_password\" {\n  type      = string\n  sensitive = true\n}\n"
	vars := config.Variables{
		"src_password": config.StringVariable(src.Password),
		"dst_password": config.StringVariable(dst.Password),
	}
	noSecret := expectNoSecretInPlan(forms)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		WorkingDir:               workDir,
		Steps: []resource.TestStep{
			{
				Config:          variable + mirrorWith(provider, src.Ref("app/web:1.0"), dst.Ref("mirror/web")),
				ConfigVariables: vars,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{noSecret},
					PostApplyPostRefresh: []plancheck.PlanCheck{noSecret},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("digest"), knownvalue.StringExact(desc.Digest.String())),
				},
				Check: resource.ComposeTestCheckFunc(
					checkNoSecretInState(t, workDir, forms),
					checkPrivateStateIsTheRecord(t, workDir),
				),
			},
			{
				// A change that copies again (new tag): plan, apply and refresh once more.
				Config:          variable + mirrorWith(provider, src.Ref("app/web:1.0"), dst.Ref("mirror/web:copy")),
				ConfigVariables: vars,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{noSecret},
					PostApplyPostRefresh: []plancheck.PlanCheck{noSecret},
				},
				Check: checkNoSecretInState(t, workDir, forms),
			},
		},
		CheckDestroy: func(*terraform.State) error { return checkNoSecretInStateFiles(t, workDir, forms) },
	})
	if t.Failed() {
		return
	}

	log, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatalf("reading the captured log: %v", err)
	}
	// The log must hold what it is supposed to: Terraform's trace and the provider's own
	// messages, else the search below proves nothing.
	for _, want := range []string{"[TRACE]", "mirror complete", `tf_provider_addr=registry.terraform.io/hashicorp/zarf`} {
		if !strings.Contains(string(log), want) {
			t.Errorf("the captured log (%d bytes) lacks %q; is logging captured at all?", len(log), want)
		}
	}
	if f, ok := findSecret(log, forms); ok {
		i := strings.Index(string(log), f)
		t.Errorf("the TRACE log contains a secret (%q) at byte %d: …%s…", f, i, log[max(0, i-300):min(len(log), i+100)])
	}
	// The state files left after destroy, backups included.
	if err := checkNoSecretInStateFiles(t, workDir, forms); err != nil {
		t.Error(err)
	}
}

// TestAccProviderAuth_credentialsGoOnlyToTheirHost mirrors A → B and B → A at once, through
// proxies that record the Authorization header of every request. A's credentials come from
// registry_auth, which must win over a Docker config entry for A; B's from the Docker config.
// Each host must see its own credentials and nothing else.
func TestAccProviderAuth_credentialsGoOnlyToTheirHost(t *testing.T) {
	dir := isolateDockerConfig(t)
	regA := startAuthTLS(t, "alice", "alice-Only-4-A")
	regB := startAuthTLS(t, "bob", "bob-Only-4-B")
	a, b := registrytest.NewProxy(t, regA), registrytest.NewProxy(t, regB)
	descA := registrytest.PushIndex(t, regA.Ref("app/web:1.0"), authImages, regA.RemoteOptions()...)
	descB := registrytest.PushIndex(t, regB.Ref("app/api:2.0"), registrytest.IndexSpec{
		Images: []registrytest.ImageSpec{{Platform: "linux/amd64", Layers: []int64{700}, Seed: 21}},
	}, regB.RemoteOptions()...)
	writeDockerConfig(t, dir, map[string][2]string{
		a.Host: {"mallory", "docker-config-secret-for-A"}, // registry_auth for A wins
		b.Host: {regB.Username, regB.Password},
	}, nil)

	basicA := "Basic " + base64.StdEncoding.EncodeToString([]byte(regA.Username+":"+regA.Password))
	basicB := "Basic " + base64.StdEncoding.EncodeToString([]byte(regB.Username+":"+regB.Password))
	config := providerBlock{
		caPEM: caBundle(&regA.Endpoint, &regB.Endpoint), // the proxies' certificates come from the same CAs
		auth:  []authBlock{{address: a.Host, username: regA.Username, password: regA.Password}},
	}.String() + fmt.Sprintf(`
resource "zarf_image_mirror" "a_to_b" {
  source = %q
  target = %q
}
resource "zarf_image_mirror" "b_to_a" {
  source = %q
  target = %q
}
`, a.Ref("app/web:1.0"), b.Ref("from-a/web"), b.Ref("app/api:2.0"), a.Ref("from-b/api"))

	// onlyOwn checks the Authorization headers that one proxy saw.
	onlyOwn := func(p *registrytest.Proxy, host, own string, others ...string) error {
		seen := p.Authorizations()
		if seen[own] == 0 {
			return fmt.Errorf("%s never received its own credentials; Authorization values: %v", host, slices.Collect(maps.Keys(seen)))
		}
		for value := range seen {
			if value != "" && value != own {
				return fmt.Errorf("%s received Authorization %q, which is not its own", host, value)
			}
			for _, o := range others {
				if strings.Contains(value, o) {
					return fmt.Errorf("%s received another registry's secret", host)
				}
			}
		}
		return nil
	}
	check := func(*terraform.State) error {
		if err := onlyOwn(a, "registry A", basicA, basicB); err != nil {
			return err
		}
		return onlyOwn(b, "registry B", basicB, basicA)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("zarf_image_mirror.a_to_b", tfjsonpath.New("digest"), knownvalue.StringExact(descA.Digest.String())),
					statecheck.ExpectKnownValue("zarf_image_mirror.b_to_a", tfjsonpath.New("digest"), knownvalue.StringExact(descB.Digest.String())),
				},
				Check: check,
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            check,
			},
		},
		CheckDestroy: check, // destroy deletes at both targets, with credentials
	})
}
