// Package wire is the JSON of the queue server's HTTP API: the request and
// response bodies, the paths and the error envelope with its stable codes.
// Both sides import it (the server in upstream/server, the client in
// upstream), so the two cannot drift apart; it imports only the task format.
// The API is documented for people in upstream/server/API.md.
package wire
