package wire

// ErrorBody is the envelope of every refused or failed request:
// {"error": {"code": "...", "message": "..."}}. Code is stable and is what
// clients act on; Message is for people and may change.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of the envelope.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// The stable error codes and the HTTP status each goes with.
const (
	CodeUnauthorized     = "unauthorized"       // 401: no token or an unknown one
	CodeForbidden        = "forbidden"          // 403: the token's role may not do this
	CodeBadRequest       = "bad_request"        // 400: malformed body, unknown field, bad parameter
	CodeTooLarge         = "too_large"          // 413: the body exceeds the server's limit
	CodeNotFound         = "not_found"          // 404: no such path
	CodeMethodNotAllowed = "method_not_allowed" // 405
	CodeUnavailable      = "unavailable"        // 503: shutting down or storage failing; retry
	CodeInternal         = "internal"           // 500: a bug; retry may help, report it
)
