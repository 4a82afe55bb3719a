package ssas

import (
	"maps"
	"strings"
	"testing"
)

// Application.xml as FMS applications ship it: the <config> children of
// <ApplicationObject> are application.config, as trimmed strings.
func TestParseAppXMLConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want map[string]string
		err  bool
	}{
		{"fms sample", `<?xml version="1.0" encoding="UTF-8"?>
<Application>
  <StreamManager><VirtualDirectory><Streams>/;c:\streams</Streams></VirtualDirectory></StreamManager>
  <ApplicationObject>
    <config>
      <adminUser>joe</adminUser>
      <maxRooms> 12 </maxRooms>
      <empty/>
    </config>
  </ApplicationObject>
</Application>`, map[string]string{"adminUser": "joe", "maxRooms": "12", "empty": ""}, false},
		{"no ApplicationObject", `<Application><JSEngine><MaxTimeOut>5</MaxTimeOut></JSEngine></Application>`, map[string]string{}, false},
		{"config outside ApplicationObject ignored", `<Application><config><a>1</a></config></Application>`, map[string]string{}, false},
		{"not XML", `{"a": 1}`, nil, true},
		{"unclosed", `<Application><ApplicationObject><config><a>1</a>`, nil, true},
		{"too large", "<Application>" + strings.Repeat(" ", 100) + "</Application>", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			max := 1000
			if tc.name == "too large" {
				max = 100
			}
			got, err := parseAppXMLConfig(strings.NewReader(tc.in), max)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if !tc.err && !maps.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// FuzzAppXMLConfig: any file is either refused or read into entries whose
// names are XML names, within the size limit.
func FuzzAppXMLConfig(f *testing.F) {
	f.Add([]byte(`<Application><ApplicationObject><config><a>1</a><b> x </b></config></ApplicationObject></Application>`))
	f.Add([]byte(`<Application><ApplicationObject><config><a><b>1</b></a></config></ApplicationObject></Application>`))
	f.Add([]byte(`<Application>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseAppXMLConfig(strings.NewReader(string(b)), 1<<16)
		if err != nil {
			return
		}
		for k := range got {
			if k == "" {
				t.Fatalf("an entry without a name from %q", b)
			}
		}
	})
}
