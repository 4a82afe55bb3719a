package ssas

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
)

// The application's configuration is not the script's to change: File
// cannot open application.yaml or Application.xml for writing (in any
// case), rename or copy over them, move them away, or remove the
// application folder that holds them. Recordings and playback go where
// that file says, so a script that could rewrite it could reach any
// folder the server can.
func TestFileCannotWriteAppConfig(t *testing.T) {
	e := newEnv(t, Config{}, map[string]string{
		"application.yaml": "record:\n  live: record\n",
		"Application.xml":  "<Application/>",
		"main.asc": `
function t(what, v) { trace(what + " " + v); }
Client.prototype.attack = function () {
    t("open yaml", new File("/application.yaml").open("text", "create"));
    t("open YAML", new File("/APPLICATION.YAML").open("text", "append"));
    t("open dotdot", new File("/sub/../application.yaml").open("text", "write"));
    t("open xml", new File("/Application.xml").open("text", "create"));
    var f = new File("/evil.yaml");
    t("open evil", f.open("text", "create"));
    f.write("streams: /etc\n");
    f.close();
    t("copy", f.copyTo("/application.yaml"));
    t("rename over", f.renameTo("/application.yaml"));
    t("rename away", new File("/application.yaml").renameTo("/old.yaml"));
    t("remove", new File("/application.yaml").remove());
    t("remove root", new File("/").remove(true));
    t("read", new File("/application.yaml").open("text", "read"));
    return true;
};
`})
	cl, err := e.connect("a", "_definst_")
	if err != nil {
		t.Fatal(err)
	}
	e.barrier()
	if v, ok := cl.call("attack"); !ok || !v.Bool() {
		t.Fatalf("attack = %v %v", v, ok)
	}
	want := []string{"open yaml false", "open YAML false", "open dotdot false", "open xml false", "open evil true",
		"copy false", "rename over false", "rename away false", "remove false", "remove root false", "read true"}
	got := e.lines()
	for _, w := range want {
		found := false
		for _, l := range got {
			found = found || l == w
		}
		if !found {
			t.Errorf("missing %q in:\n%s", w, strings.Join(got, "\n"))
		}
	}
	b, err := os.ReadFile(filepath.Join(e.dir, "app", "application.yaml"))
	if err != nil || string(b) != "record:\n  live: record\n" {
		t.Fatalf("application.yaml is now %q (%v)", b, err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "app", "Application.xml")); err != nil {
		t.Fatal(err)
	}
}

// File.mkdir joins its argument to a folder that may be a symlink, or may
// climb out with "..": the joined path is checked like any other.
func TestFileMkdirStaysInside(t *testing.T) {
	outside := t.TempDir()
	e := newEnv(t, Config{}, map[string]string{"main.asc": `
Client.prototype.mk = function (dir, name) { return new File(dir).mkdir(name); };
`})
	if err := os.Symlink(outside, filepath.Join(e.dir, "app", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(e.dir, "app", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A symlink below a folder: checking the argument alone against the
	// root ("/lnk/evil" does not exist) lets it through.
	if err := os.Symlink(outside, filepath.Join(e.dir, "app", "sub", "lnk")); err != nil {
		t.Fatal(err)
	}
	cl, err := e.connect("a", "_definst_")
	if err != nil {
		t.Fatal(err)
	}
	e.barrier()
	for _, tc := range [][2]string{{"/sub", "lnk/evil"}, {"/", "sub/lnk/evil"}, {"/", "link/evil"}, {"/", "link/a/b"}, {"/sub", "../link/evil2"}} {
		if v, ok := cl.call("mk", amf.String(tc[0]), amf.String(tc[1])); !ok || v.Bool() {
			t.Errorf("mkdir(%q) in %s = %v %v, want false", tc[1], tc[0], v, ok)
		}
	}
	// ".." stops at the virtual root, as every File path does.
	if v, ok := cl.call("mk", amf.String("/sub"), amf.String("../../escape")); !ok || !v.Bool() {
		t.Errorf("mkdir(../../escape) = %v %v", v, ok)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "app", "escape")); err != nil {
		t.Errorf("../../escape did not land at the virtual root: %v", err)
	}
	ents, _ := os.ReadDir(outside)
	if len(ents) != 0 {
		t.Fatalf("mkdir created %d entries outside the application folder", len(ents))
	}
	if _, err := os.Stat(filepath.Join(e.dir, "escape")); !os.IsNotExist(err) {
		t.Fatalf("mkdir climbed out: %v", err)
	}
	if v, ok := cl.call("mk", amf.String("/sub"), amf.String("x/y")); !ok || !v.Bool() {
		t.Fatalf("a legal mkdir = %v %v", v, ok)
	}
	if fi, err := os.Stat(filepath.Join(e.dir, "app", "sub", "x", "y")); err != nil || !fi.IsDir() {
		t.Fatalf("legal mkdir: %v", err)
	}
}

// What a script writes through File is charged to the application's file
// quota: past it write, writeln and copyTo fail; removing files gives the
// room back. Rewriting bytes in place is not growth.
func TestFileQuota(t *testing.T) {
	e := newEnvEngine(t, Config{}, instance.Config{IdleUnload: time.Minute, PendingTimeout: 5 * time.Second,
		Quota: instance.QuotaConfig{FileBytes: 10_000, FileFiles: 5}}, map[string]string{"main.asc": `
var chunk = new Array(1001).join("x"); // 1000 bytes
new File("/").mkdir("data");
Client.prototype.fill = function (name) {
    var f = new File(name);
    if (!f.open("text", "append")) return -1;
    var n = 0;
    while (n < 100 && f.write(chunk)) n++;
    f.close();
    return n;
};
Client.prototype.rewrite = function (name) {
    var f = new File(name);
    f.open("text", "write");
    var ok = f.write(chunk);
    f.close();
    return ok;
};
Client.prototype.copy = function (a, b) { return new File(a).copyTo(b); };
Client.prototype.rm = function (name) { return new File(name).remove(); };
`})
	cl, err := e.connect("a", "_definst_")
	if err != nil {
		t.Fatal(err)
	}
	e.barrier()
	// main.asc itself (about 700 bytes) is counted.
	v, ok := cl.call("fill", amf.String("/data/a.txt"))
	if !ok || v.Num() < 8 || v.Num() > 9 {
		t.Fatalf("fill wrote %v KB (%v), want 8 or 9 of the 10 KB quota", v, ok)
	}
	if v, ok := cl.call("rewrite", amf.String("/data/a.txt")); !ok || !v.Bool() {
		t.Fatalf("rewriting in place = %v %v", v, ok)
	}
	if v, ok := cl.call("copy", amf.String("/data/a.txt"), amf.String("/data/b.txt")); !ok || v.Bool() {
		t.Fatalf("copy past the quota = %v %v", v, ok)
	}
	if v, ok := cl.call("rm", amf.String("/data/a.txt")); !ok || !v.Bool() {
		t.Fatalf("remove = %v %v", v, ok)
	}
	if v, ok := cl.call("fill", amf.String("/data/c.txt")); !ok || v.Num() < 8 {
		t.Fatalf("after remove, fill wrote %v KB (%v)", v, ok)
	}
	var total int64
	_ = filepath.Walk(filepath.Join(e.dir, "app"), func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			total += fi.Size()
		}
		return nil
	})
	if total > 10_000 {
		t.Fatalf("the application folder holds %d bytes, quota 10000", total)
	}
}
