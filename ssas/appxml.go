package ssas

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dop251/goja"
)

// application.config (docs/ssas.md#application-properties): FMS filled it
// from the children of
// <Application><ApplicationObject><config> in the application's
// Application.xml; openfcs also reads the config: section of
// application.yaml, whose keys win. Values are strings either way.

// appXMLName is FMS's per-application configuration file.
const appXMLName = "Application.xml"

// appXML is the part of Application.xml that becomes application.config.
type appXML struct {
	Config struct {
		Entries []struct {
			XMLName xml.Name
			Value   string `xml:",chardata"`
		} `xml:",any"`
	} `xml:"ApplicationObject>config"`
}

// parseAppXMLConfig returns the <ApplicationObject><config> entries of an
// Application.xml, at most max bytes of it.
func parseAppXMLConfig(rd io.Reader, max int) (map[string]string, error) {
	b, err := io.ReadAll(io.LimitReader(rd, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	var doc appXML
	if err := xml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(doc.Config.Entries))
	for _, e := range doc.Config.Entries {
		out[e.XMLName.Local] = strings.TrimSpace(e.Value)
	}
	return out, nil
}

// findAppXML returns the path of the application's Application.xml,
// matched ignoring case (FCS applications came from Windows), or "".
func findAppXML(dir string) string {
	p := filepath.Join(dir, appXMLName)
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
		return p
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	for _, e := range ents {
		if e.Type().IsRegular() && strings.EqualFold(e.Name(), appXMLName) {
			return filepath.Join(dir, e.Name())
		}
	}
	return ""
}

// scriptConfig builds the application.config object. A file that cannot be
// read is logged and left out: the script still starts. Loop goroutine.
func (r *Runtime) scriptConfig() *goja.Object {
	vals := map[string]string{}
	if p := findAppXML(r.dir); p != "" {
		r.watch(p)
		m, err := readAppXMLConfig(p, r.cfg.MaxFileRead)
		if err != nil {
			r.log.Warn("Application.xml not used for application.config", "file", filepath.Base(p), "err", err)
		}
		maps.Copy(vals, m)
	}
	cfg, err := r.in.AppConfig()
	if err != nil {
		r.log.Warn("application.yaml not used for application.config", "err", err)
	}
	maps.Copy(vals, cfg.ScriptConfig)
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys) // enumeration order does not depend on map order
	o := r.vm.NewObject()
	for _, k := range keys {
		_ = o.Set(k, vals[k])
	}
	return o
}

func readAppXMLConfig(p string, max int) (map[string]string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, errors.New("cannot be read")
	}
	defer f.Close()
	return parseAppXMLConfig(f, max)
}
