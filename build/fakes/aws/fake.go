// Package awsfake is an HTTP test server that answers like the AWS APIs the DR plugin calls and
// that cannot run here: RDS (awsQuery, XML), CloudWatch (smithy RPC v2 CBOR, as aws-sdk-go-v2's
// cloudwatch v1.75+ speaks it) and Route 53 (REST-XML). Tests point the real SDK clients at URL
// with BaseEndpoint and script the state (global clusters, metrics, hosted zones) and the faults
// (auth errors, 5xx, hangs) through the Go API.
//
// One server serves all three services. It tells them apart by path and protocol, and reads the
// region and service from the SigV4 credential scope of each request, so the same server stands
// for every region (metrics are per region, as in CloudWatch). Signatures are not verified; the
// Authorization header must be present and well formed, and its access key must be AccessKeyID.
package awsfake

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Test credentials the fake accepts by default. They are not secrets: nothing but this fake
// accepts them.
const (
	AccessKeyID     = "AKIAFAKEDRTEST000001"
	SecretAccessKey = "fake-secret-access-key-for-tests-only"
)

// Services as named in the SigV4 credential scope.
const (
	ServiceRDS        = "rds"
	ServiceCloudWatch = "monitoring"
	ServiceRoute53    = "route53"
)

// FaultKind is what a scripted fault makes the server answer.
type FaultKind int

const (
	// FaultAuth answers 403 InvalidClientTokenId, as AWS does for an unknown access key.
	FaultAuth FaultKind = iota + 1
	// FaultAccessDenied answers 403 AccessDenied, as AWS does when IAM denies the action.
	FaultAccessDenied
	// FaultServer answers a 5xx (Fault.Status, default 500) in the service's error shape.
	FaultServer
	// FaultHang never answers: the request blocks until the client gives up or the server closes.
	FaultHang
)

// Fault is a scripted failure. Service and Action narrow it ("" matches any); Count is how many
// matching requests fail (0: all of them until ClearFaults).
type Fault struct {
	Service string
	Action  string
	Kind    FaultKind
	Status  int
	Count   int
}

// Request is one request the server received, for assertions.
type Request struct {
	Service, Action, Region, AccessKeyID string
}

// Server is the fake. Its exported fields may be set before the first request.
type Server struct {
	URL string
	// AccessKeyID is the only access key accepted; others get InvalidClientTokenId.
	AccessKeyID string
	// Steps is how many DescribeGlobalClusters polls a switchover or failover takes before the
	// writer flips (default 3).
	Steps int
	// InsyncAfter is how many GetChange polls a Route 53 change stays PENDING (default 2).
	InsyncAfter int
	// Now is the clock for metrics and change timestamps (default time.Now).
	Now func() time.Time

	srv  *httptest.Server
	done chan struct{}
	once sync.Once

	mu       sync.Mutex
	globals  map[string]*globalCluster
	clusters map[string]*DBCluster // by ARN
	metrics  map[metricKey][]Datapoint
	zones    map[string]*hostedZone
	changes  map[string]*change
	faults   []*Fault
	requests []Request
}

// New starts a fake AWS endpoint, closed when the test ends.
func New(tb testing.TB) *Server {
	s := &Server{
		AccessKeyID: AccessKeyID,
		Steps:       3,
		InsyncAfter: 2,
		Now:         time.Now,
		done:        make(chan struct{}),
		globals:     map[string]*globalCluster{},
		clusters:    map[string]*DBCluster{},
		metrics:     map[metricKey][]Datapoint{},
		zones:       map[string]*hostedZone{},
		changes:     map[string]*change{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.srv.URL
	if tb != nil {
		tb.Cleanup(s.Close)
	}
	return s
}

// Close releases hanging requests and stops the server.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.done)
		s.srv.Close()
	})
}

// Inject adds a scripted fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every scripted fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// scope is what a SigV4 Authorization header says about the request.
type scope struct {
	accessKeyID, region, service string
}

// parseAuth reads "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/rds/aws4_request,
// SignedHeaders=..., Signature=...". ok is false when the header is absent or malformed.
func parseAuth(h string) (scope, bool) {
	rest, found := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !found {
		return scope{}, false
	}
	var cred string
	var signed, sig bool
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v != ""
		case "Signature":
			sig = len(v) == 64
		}
	}
	f := strings.Split(cred, "/")
	if len(f) != 5 || f[4] != "aws4_request" || !signed || !sig {
		return scope{}, false
	}
	return scope{accessKeyID: f[0], region: f[2], service: f[3]}, true
}

// protocol says how a service answers: errors and bodies differ per protocol.
type protocol interface {
	writeError(w http.ResponseWriter, status int, fault, code, message string)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	var p protocol
	var service string
	switch {
	case strings.HasPrefix(r.URL.Path, "/2013-04-01/"):
		p, service = restXML{}, ServiceRoute53
	case strings.HasPrefix(r.URL.Path, "/service/"):
		p, service = rpcCBOR{}, ServiceCloudWatch
	default:
		p, service = awsQuery{}, ServiceRDS
	}
	sc, ok := parseAuth(r.Header.Get("Authorization"))
	if !ok || r.Header.Get("X-Amz-Date") == "" {
		p.writeError(w, http.StatusForbidden, "Sender", "MissingAuthenticationToken", "Request is missing Authentication Token")
		return
	}
	if sc.service != service {
		p.writeError(w, http.StatusForbidden, "Sender", "SignatureDoesNotMatch",
			"Credential should be scoped to correct service: '"+service+"'. ")
		return
	}
	if sc.accessKeyID != s.AccessKeyID {
		s.writeAuthError(w, p, FaultAuth)
		return
	}
	switch service {
	case ServiceRoute53:
		s.serveRoute53(w, r, sc)
	case ServiceCloudWatch:
		s.serveCloudWatch(w, r, sc)
	default:
		s.serveRDS(w, r, sc)
	}
}

// begin records the request and applies a matching fault. It returns false when the fault
// answered (or hung) and the caller must stop.
func (s *Server) begin(w http.ResponseWriter, r *http.Request, p protocol, sc scope, action string) bool {
	s.mu.Lock()
	s.requests = append(s.requests, Request{Service: sc.service, Action: action, Region: sc.region, AccessKeyID: sc.accessKeyID})
	var hit *Fault
	for i, f := range s.faults {
		if (f.Service == "" || f.Service == sc.service) && (f.Action == "" || f.Action == action) {
			hit = f
			if f.Count > 0 {
				if f.Count--; f.Count == 0 {
					s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
				}
			}
			break
		}
	}
	s.mu.Unlock()
	if hit == nil {
		return true
	}
	switch hit.Kind {
	case FaultHang:
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		// Drop the connection without an answer, as a server that dies mid-request does.
		panic(http.ErrAbortHandler)
	case FaultServer:
		status := hit.Status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		code, msg := "InternalFailure", "The request processing has failed because of an unknown error, exception or failure."
		if status == http.StatusServiceUnavailable {
			code, msg = "ServiceUnavailable", "Service is unable to handle request."
		}
		if _, cbor := p.(rpcCBOR); cbor && status == http.StatusInternalServerError {
			code = "InternalServiceFault"
		}
		p.writeError(w, status, "Receiver", code, msg)
	default:
		s.writeAuthError(w, p, hit.Kind)
	}
	return false
}

func (s *Server) writeAuthError(w http.ResponseWriter, p protocol, kind FaultKind) {
	if kind == FaultAccessDenied {
		p.writeError(w, http.StatusForbidden, "Sender", "AccessDenied",
			"User: arn:aws:iam::123456789012:user/dr-plugin is not authorized to perform this operation")
		return
	}
	p.writeError(w, http.StatusForbidden, "Sender", "InvalidClientTokenId", "The security token included in the request is invalid.")
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
