//go:build e2e

package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// axNode is one entry of the browser's "ax" answer: what a screen
// reader sees of a control.
type axNode struct {
	Role      string
	Name      string
	Focusable bool
	Focused   bool
	Disabled  bool
}

func (n axNode) String() string { return n.Role + " " + `"` + n.Name + `"` }

func axTree(t testing.TB, b *browser, page string) []axNode {
	t.Helper()
	var nodes []axNode
	if err := json.Unmarshal(b.do(t, 30*time.Second, map[string]any{"op": "ax", "page": page}), &nodes); err != nil {
		t.Fatal(err)
	}
	return nodes
}

// focused is the control that has the keyboard focus, or a zero node.
func focused(t testing.TB, b *browser, page string) axNode {
	t.Helper()
	for _, n := range axTree(t, b, page) {
		if n.Focused {
			return n
		}
	}
	return axNode{}
}

// checkNames requires a name on every control of page.
func checkNames(t testing.TB, b *browser, page string) {
	t.Helper()
	nodes := axTree(t, b, page)
	if len(nodes) < 5 {
		t.Fatalf("%s: the accessibility tree has %d controls: %v", page, len(nodes), nodes)
	}
	for _, n := range nodes {
		if strings.TrimSpace(n.Name) == "" {
			t.Errorf("%s: a %s without a name (focusable %v); every control: %v", page, n.Role, n.Focusable, nodes)
		}
	}
}

// tabTo presses Tab until the focus is on a control of role named name
// (or, with a trailing "*", whose name starts with the rest).
func tabTo(t testing.TB, b *browser, page, role, name string) {
	t.Helper()
	var seen []axNode
	match := func(n string) bool { return n == name }
	if prefix, ok := strings.CutSuffix(name, "*"); ok {
		match = func(n string) bool { return strings.HasPrefix(n, prefix) }
	}
	for range 60 {
		if f := focused(t, b, page); f.Role == role && match(f.Name) {
			return
		} else if f.Role != "" {
			seen = append(seen, f)
		}
		b.act(t, map[string]any{"op": "press", "page": page, "key": "Tab"})
	}
	t.Fatalf("%s: Tab never reached %s %q; it went through %v", page, role, name, seen)
}

// TestRoomKeyboardAndLabels: the page docs/components.md offers to copy
// (served as /components/example.html) is used with the keyboard alone:
// Tab reaches every control, each with a name a screen reader reads
// (Chromium's accessibility tree, the room page's too); joining, a chat
// line, a whiteboard stroke and its undo, a text and clearing the
// board, all typed, reach a room page in the same room.
func TestRoomKeyboardAndLabels(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{Apps: []string{"room"}})
	srv.copySampleApp(t, "room")
	b := startBrowser(t)
	b.open(t, "peer", srv.pageURL("/room/demo?user=peer"))
	waitStrings(t, b, "peer", "people", roomPeople, []string{"peer"})
	b.open(t, "kbd", srv.pageURL("/components/example.html"))
	b.wait(t, "kbd", `return customElements.get('fcs-connect') !== undefined;`, 30*time.Second)
	checkNames(t, b, "kbd")

	tabTo(t, b, "kbd", "textbox", "Your name")
	b.act(t, map[string]any{"op": "type", "page": "kbd", "text": "kim"})
	b.act(t, map[string]any{"op": "press", "page": "kbd", "key": "Enter"})
	b.wait(t, "kbd", `return document.querySelector('fcs-connect').state === 'connected';`, 30*time.Second)
	waitStrings(t, b, "peer", "people with the keyboard user", roomPeople, []string{"kim", "peer"})
	b.wait(t, "kbd", `return !document.querySelector('fcs-chat').shadowRoot.querySelector('input').disabled;`, 30*time.Second)

	// One round of Tab through the joined page.
	first := focused(t, b, "kbd")
	if first != (axNode{Role: "button", Name: "Leave", Focusable: true, Focused: true}) {
		t.Errorf("after joining with Enter the focus is on %v, want Leave (the form it was in is gone)", first)
	}
	walk := []axNode{first}
	for range 80 {
		b.act(t, map[string]any{"op": "press", "page": "kbd", "key": "Tab"})
		f := focused(t, b, "kbd")
		if f == first {
			break
		}
		if f.Role != "" {
			walk = append(walk, f)
		}
	}
	t.Logf("Tab order: %v", walk)
	for _, want := range []axNode{
		{Role: "button", Name: "Leave"}, {Role: "button", Name: "Start camera"},
		{Role: "button", Name: "Pen"}, {Role: "button", Name: "Rectangle"}, {Role: "button", Name: "Undo"},
		{Role: "combobox", Name: "Line width"}, {Role: "textbox", Name: "Message"},
		{Role: "button", Name: "Clear history"},
	} {
		found := false
		for _, n := range walk {
			found = found || (n.Role == want.Role && n.Name == want.Name)
		}
		if !found {
			t.Errorf("Tab does not reach %v", want)
		}
	}
	board := false
	for _, n := range walk {
		board = board || strings.HasPrefix(n.Name, "Shared whiteboard")
		if strings.TrimSpace(n.Name) == "" {
			t.Errorf("Tab reaches a %s without a name", n.Role)
		}
	}
	if !board {
		t.Errorf("Tab does not reach the whiteboard")
	}
	checkNames(t, b, "kbd")
	checkNames(t, b, "peer")

	// A chat line, typed.
	tabTo(t, b, "kbd", "textbox", "Message")
	b.act(t, map[string]any{"op": "type", "page": "kbd", "text": "typed, not clicked"})
	b.act(t, map[string]any{"op": "press", "page": "kbd", "key": "Enter"})
	waitStrings(t, b, "peer", "the typed chat line", roomChat, []string{"kim: typed, not clicked"})

	// A pen stroke with the arrows: Enter starts at the cursor, Space
	// adds a point, Enter ends; Ctrl+Z takes it back.
	tabTo(t, b, "kbd", "image", "Shared whiteboard*")
	for _, k := range []string{"Enter", "Shift+ArrowLeft", "Shift+ArrowUp", "Space", "Shift+ArrowRight", "Shift+ArrowRight", "Shift+ArrowDown", "Enter"} {
		b.act(t, map[string]any{"op": "press", "page": "kbd", "key": k})
	}
	waitStrings(t, b, "peer", "the keyboard stroke", roomShapes, []string{"stroke by kim"})
	if n := inked(t, b, "peer"); n < 100 {
		t.Errorf("peer: the keyboard stroke inked %d pixels", n)
	}
	b.act(t, map[string]any{"op": "press", "page": "kbd", "key": "Control+z"})
	waitStrings(t, b, "peer", "the stroke undone", roomShapes, nil)

	// Text: pick the tool, Enter on the board opens a field at the
	// cursor, Enter places it. Then Clear empties every board.
	tabTo(t, b, "kbd", "button", "Text")
	b.act(t, map[string]any{"op": "press", "page": "kbd", "key": "Enter"})
	tabTo(t, b, "kbd", "image", "Shared whiteboard*")
	b.act(t, map[string]any{"op": "press", "page": "kbd", "key": "Enter"})
	if f := focused(t, b, "kbd"); f.Role != "textbox" || f.Name != "Text to place" {
		t.Fatalf("Enter on the board with the text tool focused %v, want the text field", f)
	}
	b.act(t, map[string]any{"op": "type", "page": "kbd", "text": "plan B"})
	b.act(t, map[string]any{"op": "press", "page": "kbd", "key": "Enter"})
	waitStrings(t, b, "peer", "the typed text", roomShapes, []string{"text by kim"})
	var placed []string
	b.eval(t, "peer", `return window.openfcsRoom.board.shapes.map((s) => s.text);`, &placed)
	if len(placed) != 1 || placed[0] != "plan B" {
		t.Errorf("peer's board has the texts %q, want [plan B]", placed)
	}
	tabTo(t, b, "kbd", "button", "Clear")
	b.act(t, map[string]any{"op": "press", "page": "kbd", "key": "Enter"})
	waitStrings(t, b, "peer", "the board cleared", roomShapes, nil)
	if n := inked(t, b, "peer"); n != 0 {
		t.Errorf("peer: the cleared board still shows %d inked pixels", n)
	}

	b.noProblems(t, "kbd")
	b.noProblems(t, "peer")
}
