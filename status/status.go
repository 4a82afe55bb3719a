// Package status is the one vocabulary of the status codes openfcs sends
// and understands: NetConnection, NetStream, SharedObject and Application
// codes, each with its level and a default description
// (docs/rtmp.md#status-codes, docs/shared-objects.md#status-events,
// docs/ssas.md#application-status-codes). The RTMP session, the engine,
// the script host and the bridge all use these names; nothing else spells a
// code out.
//
// Codes are untyped string constants, so they compare with the codes a
// peer sends and fill the string fields of info objects directly. Info
// builds an info object with the code's own level, so a code cannot go out
// with the wrong one.
//
// The package is pure: it imports only amf.
package status

import "github.com/openfcs/openfcs/amf"

// Levels of info objects (docs/rtmp.md#command-shapes).
const (
	LevelStatus  = "status"
	LevelWarning = "warning"
	LevelError   = "error"
)

// NetConnection codes.
const (
	ConnectSuccess     = "NetConnection.Connect.Success"
	ConnectRejected    = "NetConnection.Connect.Rejected"
	ConnectInvalidApp  = "NetConnection.Connect.InvalidApp"
	ConnectFailed      = "NetConnection.Connect.Failed"
	ConnectAppShutdown = "NetConnection.Connect.AppShutdown"
	ConnectClosed      = "NetConnection.Connect.Closed"
	ConnectIdleTimeout = "NetConnection.Connect.IdleTimeout"
	// ConnectReconnectRequest is E-RTMP's request that the client connect
	// again (to tcUrl when the info carries one), sent only to clients
	// whose connect advertised capsEx Reconnect (docs/operations.md#reload-and-drain).
	ConnectReconnectRequest = "NetConnection.Connect.ReconnectRequest"
	CallFailed              = "NetConnection.Call.Failed"
	CallBadVersion          = "NetConnection.Call.BadVersion"
	// CallSuccess and AdminCommandFailed answer Administration API
	// commands (docs/operations.md#admin-api).
	CallSuccess        = "NetConnection.Call.Success"
	AdminCommandFailed = "NetConnection.Admin.CommandFailed"
)

// NetStream codes.
const (
	PublishStart        = "NetStream.Publish.Start"
	PublishBadName      = "NetStream.Publish.BadName"
	PublishIdle         = "NetStream.Publish.Idle"
	UnpublishSuccess    = "NetStream.Unpublish.Success"
	RecordStart         = "NetStream.Record.Start"
	RecordStop          = "NetStream.Record.Stop"
	RecordNoAccess      = "NetStream.Record.NoAccess"
	RecordFailed        = "NetStream.Record.Failed"
	PlayReset           = "NetStream.Play.Reset"
	PlayStart           = "NetStream.Play.Start"
	PlayStop            = "NetStream.Play.Stop"
	PlayStreamNotFound  = "NetStream.Play.StreamNotFound"
	PlayFailed          = "NetStream.Play.Failed"
	PlayPublishNotify   = "NetStream.Play.PublishNotify"
	PlayUnpublishNotify = "NetStream.Play.UnpublishNotify"
	PlayInsufficientBW  = "NetStream.Play.InsufficientBW"
	PlayComplete        = "NetStream.Play.Complete" // in onPlayStatus
	PlaySwitch          = "NetStream.Play.Switch"   // in onPlayStatus
	PauseNotify         = "NetStream.Pause.Notify"
	UnpauseNotify       = "NetStream.Unpause.Notify"
	SeekNotify          = "NetStream.Seek.Notify"
	SeekFailed          = "NetStream.Seek.Failed"
	DataStart           = "NetStream.Data.Start"
	StreamFailed        = "NetStream.Failed"
	InvalidArg          = "NetStream.InvalidArg"
	ClearSuccess        = "NetStream.Clear.Success"
	ClearFailed         = "NetStream.Clear.Failed"
	// WebRTC signaling of a NetStream (docs/webrtc.md#netstream-signaling).
	WebRTCAnswer = "NetStream.WebRTC.Answer"
	WebRTCFailed = "NetStream.WebRTC.Failed"
	WebRTCClosed = "NetStream.WebRTC.Closed"
)

// SharedObject codes (docs/shared-objects.md#status-events).
const (
	NoReadAccess         = "SharedObject.NoReadAccess"
	NoWriteAccess        = "SharedObject.NoWriteAccess"
	ObjectCreationFailed = "SharedObject.ObjectCreationFailed"
	BadPersistence       = "SharedObject.BadPersistence"
)

// Application codes, seen only by scripts (docs/ssas.md#application-status-codes).
const (
	AppScriptError = "Application.Script.Error"
	AppShutdown    = "Application.Shutdown" // onAppStop: the server or the script shut the instance down
	AppGC          = "Application.GC"       // onAppStop: the instance was idle
)

type entry struct{ level, desc string }

// table gives every code its level and default description. A test keeps
// it equal to the constants above.
var table = map[string]entry{
	ConnectSuccess:          {LevelStatus, "Connection succeeded."},
	ConnectRejected:         {LevelError, "Connection rejected."},
	ConnectInvalidApp:       {LevelError, "The application is not defined."},
	ConnectFailed:           {LevelError, "Connection failed."},
	ConnectAppShutdown:      {LevelError, "The application is shutting down."},
	ConnectClosed:           {LevelStatus, "Connection closed."},
	ConnectIdleTimeout:      {LevelStatus, "Connection closed for being idle."},
	ConnectReconnectRequest: {LevelStatus, "The server asks the client to connect again."},
	CallFailed:              {LevelError, "Call failed."},
	CallBadVersion:          {LevelError, "Message in an unknown format."},
	CallSuccess:             {LevelStatus, "Call succeeded."},
	AdminCommandFailed:      {LevelError, "The administration command failed."},

	PublishStart:        {LevelStatus, "Publishing started."},
	PublishBadName:      {LevelError, "The stream cannot be published."},
	PublishIdle:         {LevelStatus, "The stream is idle."},
	UnpublishSuccess:    {LevelStatus, "Publishing stopped."},
	RecordStart:         {LevelStatus, "Recording started."},
	RecordStop:          {LevelStatus, "Recording stopped."},
	RecordNoAccess:      {LevelError, "The stream cannot be recorded."},
	RecordFailed:        {LevelError, "Recording failed."},
	PlayReset:           {LevelStatus, "Playlist reset."},
	PlayStart:           {LevelStatus, "Playing started."},
	PlayStop:            {LevelStatus, "Playing stopped."},
	PlayStreamNotFound:  {LevelError, "Stream not found."},
	PlayFailed:          {LevelError, "Playing failed."},
	WebRTCAnswer:        {LevelStatus, "The WebRTC answer."},
	WebRTCFailed:        {LevelError, "WebRTC negotiation refused."},
	WebRTCClosed:        {LevelError, "The WebRTC peer ended."},
	PlayPublishNotify:   {LevelStatus, "The stream is published."},
	PlayUnpublishNotify: {LevelStatus, "The stream is unpublished."},
	PlayInsufficientBW:  {LevelWarning, "Insufficient bandwidth: video is being dropped."},
	PlayComplete:        {LevelStatus, "Playlist complete."},
	PlaySwitch:          {LevelStatus, "Switching to the next item."},
	PauseNotify:         {LevelStatus, "Paused."},
	UnpauseNotify:       {LevelStatus, "Unpaused."},
	SeekNotify:          {LevelStatus, "Seeking."},
	SeekFailed:          {LevelError, "Seeking failed."},
	DataStart:           {LevelStatus, "Data start."},
	StreamFailed:        {LevelError, "The stream failed."},
	InvalidArg:          {LevelError, "Invalid arguments."},
	ClearSuccess:        {LevelStatus, "Recorded stream deleted."},
	ClearFailed:         {LevelError, "Recorded stream not deleted."},

	NoReadAccess:         {LevelError, "No read access."},
	NoWriteAccess:        {LevelError, "No write access."},
	ObjectCreationFailed: {LevelError, "The shared object cannot be created."},
	BadPersistence:       {LevelError, "The shared object exists with another persistence."},

	AppScriptError: {LevelError, "Application script error."},
	AppShutdown:    {LevelStatus, "The application is shutting down."},
	AppGC:          {LevelStatus, "The application is unloading after being idle."},
}

// Known reports whether code is one of the codes above.
func Known(code string) bool {
	_, ok := table[code]
	return ok
}

// Level returns the level of code, LevelStatus for a code this package
// does not know (one a remote server made up).
func Level(code string) string {
	if e, ok := table[code]; ok {
		return e.level
	}
	return LevelStatus
}

// Description returns the default description of code, "" for an
// unknown code.
func Description(code string) string { return table[code].desc }

// Info builds the info object of code: level, code and description first
// (clients read these), then extra properties in the order given. An empty
// desc takes the code's default description.
func Info(code, desc string, extra ...amf.Prop) amf.Value {
	if desc == "" {
		desc = Description(code)
	}
	props := make([]amf.Prop, 0, 3+len(extra))
	props = append(props,
		amf.Prop{Key: "level", Value: amf.String(Level(code))},
		amf.Prop{Key: "code", Value: amf.String(code)},
		amf.Prop{Key: "description", Value: amf.String(desc)},
	)
	props = append(props, extra...)
	return amf.Object(props...)
}

// Error is an error that carries a status code, so the layer that reports
// it maps it to onStatus or _error without parsing text
// (docs/architecture.md#errors). The engine returns it for refusals (a
// play or publish the application denies); the project's client returns
// it for a status a server answered with.
type Error struct {
	Code        string
	Description string
	Err         error // the cause, if any
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Description + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Description
}

func (e *Error) Unwrap() error { return e.Err }
