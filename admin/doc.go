// Package admin is the operator's side of the server: an HTTP listener of
// its own (admin.addr, 127.0.0.1:8086 by default) that serves the Flash Media
// Server Administration API under its FMS names (/admin/getServerStats,
// /admin/getLiveStreamStats?appInst=live/_definst_&stream=cam, ...), a REST
// view of the same data (/admin/api/v1/..., described by
// docs/admin-api.yaml), and whatever the wiring mounts beside them (the
// Prometheus metrics at /metrics). Every route but the health checks wants
// the admin token, as a bearer token or as FMS's auser/apswd parameters
// (docs/operations.md#admin-api).
//
// The package reads the engine through the small interface Engine and the
// transports through the counters they export; nothing below it imports it.
// It leaves out what FMS's API did for a server it could reconfigure at run
// time (virtual hosts, adding administrators, editing configuration files).
package admin
