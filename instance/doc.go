// Package instance is the engine every transport calls: it maps
// rtmp://host/app/instance onto an application folder and a running
// application instance, registers the instance's clients, owns its live
// streams (a media.Registry) and unloads the instance after it has been idle.
//
// Transports (rtmp, and later the tunnel and the browser bridge) know
// nothing of each other; they all come through Manager.Connect and leave
// through Instance.Disconnect. This package imports no transport.
package instance
