package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// step is one command of the walkthrough with what must hold of its output.
type step struct {
	prose   string
	cmd     string
	exit    int
	capture map[string]string // variable → JSON path in the output
	want    []string          // substrings the output must contain
	reject  []string          // substrings it must not contain
}

var steps = []step{
	{prose: "## 1. Initialize the server\n\n`init` creates the first signing key, the vendor root customer and the first admin API key, which is printed this once.",
		cmd: "tollgate-server init --data tg-data --name \"Tollgate Vendor\" -o json", capture: map[string]string{"ADMIN_KEY": "admin_api_key"},
		want: []string{`"root_customer_id": "root"`, `"admin_api_key": "tgk_`}},
	{prose: "Start the server; it prints the address it listens on.",
		cmd: "tollgate-server serve --data tg-data --http " + docAddr + " &", want: []string{"http: http://" + docAddr}},
	{prose: "The commands below use `TOLLGATE_SERVER=http://" + docAddr + "` and, unless a line sets another, `TOLLGATE_API_KEY=$ADMIN_KEY`.",
		cmd: "tollgatectl whoami", want: []string{"root      admin"}},
	{prose: "## 2. Distributor and customer\n\nThe vendor creates a distributor and its first admin user. Every new customer gets one trial license.",
		cmd:  "tollgatectl customer create --id northwind --name \"Northwind Distribution\" --email billing@northwind.test",
		want: []string{"northwind  Northwind Distribution  root"}},
	{cmd: "tollgatectl user create --customer northwind --email ops@northwind.test --role admin -o json",
		capture: map[string]string{"DIST_KEY": "api_key"}, want: []string{`"role": "admin"`}},
	{prose: "Creating licenses is a right the vendor grants, not a consequence of having customers. The vendor makes Northwind an issuer, for term licenses of 12, 24 or 36 months and day licenses of at most 1,000 days; the change is audited.",
		cmd:  "tollgatectl customer set northwind --issuer=true --allowed-months 12,24,36 --max-days 1000",
		want: []string{"true", "12,24,36", "1000"}},
	{prose: "The distributor creates its customer (the VAT number is visible to the distributor only) and the customer's first admin.",
		cmd:  "TOLLGATE_API_KEY=$DIST_KEY tollgatectl customer create --id acme --name \"Acme Plastics\" --parent northwind --email ap@acme.test --vat DE811907980",
		want: []string{"DE811907980"}},
	{cmd: "TOLLGATE_API_KEY=$DIST_KEY tollgatectl user create --customer acme --email it@acme.test --role admin -o json",
		capture: map[string]string{"ACME_KEY": "api_key"}},
	{prose: "## 3. Device\n\nOn the device, the agent creates its Ed25519 identity and pins the server's trust bundle.",
		cmd: "tollgate-server trust --data tg-data --out trust.json", want: []string{"wrote trust bundle with 1 key(s)"}},
	{cmd: "tollgate-agent init --data press-01 --device-id press-01 --model sensor-a --trust trust.json -o json",
		capture: map[string]string{"PUBLIC_KEY": "public_key"}},
	{prose: "The customer registers the device with that public key.",
		cmd:  "TOLLGATE_API_KEY=$ACME_KEY tollgatectl device create --customer acme --id press-01 --model sensor-a --public-key $PUBLIC_KEY",
		want: []string{"press-01  acme"}},
	{prose: "## 4. Licenses: create, sell, return\n\nThe vendor creates five 12-month term licenses in the distributor's stock. A term starts on the 1st of the next month.",
		cmd:  "tollgatectl license create --customer northwind --type standard --billing term --months 12 --models \"sensor-*\" --max-samples-per-hour 1000 --count 5 --distributor-description PO-2026-117",
		want: []string{"unused"}},
	{prose: "The distributor sells three of them to Acme in one batch, and Acme returns one.",
		cmd: "TOLLGATE_API_KEY=$DIST_KEY tollgatectl license sell --to acme --count 3", want: []string{"sell  northwind  acme  3"}},
	{cmd: "TOLLGATE_API_KEY=$ACME_KEY tollgatectl license return --count 1", want: []string{"return  acme  northwind  1"}},
	{cmd: "TOLLGATE_API_KEY=$DIST_KEY tollgatectl sales list", want: []string{"return", "sell"}},
	{prose: "Acme lists its standard licenses, the two it kept (its trial is listed without `--type standard`); the distributor description is not shown to it.",
		cmd: "TOLLGATE_API_KEY=$ACME_KEY tollgatectl license list --type standard -o json", capture: map[string]string{"LICENSE": "licenses.0.id"},
		reject: []string{"PO-2026-117"}, want: []string{`"status": "unused"`}},
	{prose: "## 5. Bind and show the token\n\nThe distributor may not operate Acme's licenses: Acme has not switched `allow_superior_manage` on, and the error says who may.",
		cmd: "TOLLGATE_API_KEY=$DIST_KEY tollgatectl license bind $LICENSE --device press-01", exit: 1,
		want: []string{"error: forbidden: customer acme ", "an admin of acme may do this", "--allow-superior-manage=true"}, reject: []string{"forbidden: forbidden"}},
	{prose: "Acme binds the license itself; binding activates it and signs a token for the device.",
		cmd: "TOLLGATE_API_KEY=$ACME_KEY tollgatectl license bind $LICENSE --device press-01", want: []string{"active  press-01"}},
	{cmd: "TOLLGATE_API_KEY=$ACME_KEY tollgatectl license token $LICENSE -o json", capture: map[string]string{"TOKEN": "token"},
		want: []string{`"token": "tg1.`}},
	{prose: "The device imports the token with no network call and enforces it.",
		cmd: "tollgate-agent activate --data press-01 $TOKEN"}, // its exit status is the agent's contract; its wording is not ours to pin
	{prose: "## 6. Transfer\n\nAcme creates a sub-customer for its east plant and transfers the license there: the receiver gets a new license id, the old id becomes `transferred` and is listed in the revocation list so the device drops it.",
		cmd: "TOLLGATE_API_KEY=$ACME_KEY tollgatectl customer create --id acme-east --name \"Acme East Plant\"", want: []string{"acme-east"}},
	{prose: "Acme is an end customer, not an issuer: it may create customers below itself, never licenses for them.",
		cmd:  "TOLLGATE_API_KEY=$ACME_KEY tollgatectl license create --customer acme-east --type standard --billing days --days 100000 --models \"sensor-*\" --count 1000",
		exit: 1, want: []string{"error: not_issuer: "}},
	{cmd: "TOLLGATE_API_KEY=$ACME_KEY tollgatectl license transfer $LICENSE --to acme-east -o json", capture: map[string]string{"NEW_LICENSE": "new.id"},
		want: []string{`"status": "transferred"`, `"transferred_from"`}},
	{prose: "## 7. Revoke\n\nThe vendor revokes the new license at once; agents drop it at their next contact.",
		cmd: "tollgatectl license revoke $NEW_LICENSE", want: []string{"revoked"}},
	{prose: "The revocation list moved on. Each device gets its own, signed for it: press-01's names the transferred id (press-01 holds its token) and nothing of other devices or customers; the revoked license was never bound, so no device holds a token for it.",
		cmd: "TOLLGATE_API_KEY=$ACME_KEY tollgatectl revocation show --device press-01 -o json", want: []string{`"device_id": "press-01"`, `"revoked": 1`, `"token": "tg1.rev.`}},
	{prose: "## 8. Audit\n\nEvery change is in the audit log: who, what, when, before and after (`-o json` shows before/after).",
		cmd: "tollgatectl audit list --limit 6", want: []string{"license.revoke", "license.transfer"}},
	{prose: "The issuer right is in the customer's settings, shown to Northwind itself and to the vendor.",
		cmd: "TOLLGATE_API_KEY=$DIST_KEY tollgatectl customer show northwind -o json", want: []string{`"issuer": true`, `"allowed_months": [`, `"max_days": 1000`}},
}

// TestWalkthroughQuotesGlobs: a reader pastes the commands into a shell,
// which expands an unquoted * or ? into the names of matching files; every
// glob in a step is inside quotes.
func TestWalkthroughQuotesGlobs(t *testing.T) {
	for i, s := range steps {
		quoted := false
		for _, r := range s.cmd {
			switch {
			case r == '"':
				quoted = !quoted
			case (r == '*' || r == '?' || r == '[') && !quoted:
				t.Errorf("step %d: unquoted %q in %s", i, r, s.cmd)
			}
		}
	}
}

func TestWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	root := moduleRoot(t)
	e := &env{t: t, root: root, bin: build(t), dir: t.TempDir(), vars: map[string]string{}}
	var doc strings.Builder
	doc.WriteString(walkthroughIntro)
	for i, s := range steps {
		var out string
		code := 0
		if strings.HasSuffix(s.cmd, " &") {
			out = e.startServer(s.cmd)
		} else {
			out, code = e.run(s.cmd)
		}
		if code != s.exit {
			t.Fatalf("step %d %q: exit %d, want %d\n%s", i, s.cmd, code, s.exit, out)
		}
		for _, w := range s.want {
			if !strings.Contains(out, w) {
				t.Fatalf("step %d %q: output lacks %q\n%s", i, s.cmd, w, out)
			}
		}
		for _, r := range s.reject {
			if strings.Contains(out, r) {
				t.Fatalf("step %d %q: output shows %q\n%s", i, s.cmd, r, out)
			}
		}
		if s.prose != "" {
			doc.WriteString("\n" + s.prose + "\n")
		}
		fmt.Fprintf(&doc, "\n```sh\n$ %s\n```\n```\n%s```\n", s.cmd, out)
		for name, path := range s.capture {
			e.vars[name] = jsonPath(t, out, path)
			fmt.Fprintf(&doc, "```sh\n$ export %s=%s\n```\n", name, e.vars[name])
		}
	}
	path := filepath.Join(root, "docs", "walkthrough.md")
	if *update {
		if err := os.WriteFile(path, []byte(doc.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	checkDocMatches(t, path)
}

// checkDocMatches fails if docs/walkthrough.md no longer shows every command
// this test runs, in order: the document and the test cannot drift apart.
func checkDocMatches(t *testing.T, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (regenerate with go test ./server/e2e -run Walkthrough -update)", err)
	}
	text := string(b)
	at := 0
	for _, s := range steps {
		i := strings.Index(text[at:], "$ "+s.cmd+"\n")
		if i < 0 {
			t.Fatalf("docs/walkthrough.md lacks (in order) the command %q; regenerate with -update", s.cmd)
		}
		at += i
	}
}

const walkthroughIntro = `# Walkthrough: from an empty server to a revoked license

Every command below was run by ` + "`go test ./server/e2e -run Walkthrough -update`" + ` against the built
binaries; the output is that run's. The same test runs in ` + "`make test`" + ` (on a free port) and fails if
a command, its exit status or the facts checked in its output change, or if this file stops showing
the commands it runs. Ids, keys and tokens differ on every run.

Build the binaries first: ` + "`make build`" + ` puts ` + "`tollgate-server`, `tollgatectl` and `tollgate-agent`" + ` in ` + "`bin/`" + `.
`
