package awsfake

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

const rdsXMLNS = "http://rds.amazonaws.com/doc/2014-10-31/"

// Global cluster member statuses, as RDS spells them.
const (
	ForwardingEnabled   = "enabled"
	ForwardingDisabled  = "disabled"
	ForwardingEnabling  = "enabling"
	ForwardingDisabling = "disabling"
	SyncConnected       = "connected"
	SyncPendingResync   = "pending-resync"
)

// GlobalCluster scripts an Aurora global database.
type GlobalCluster struct {
	ID            string
	Engine        string // default aurora-postgresql
	EngineVersion string // default 16.4
	Status        string // default available
	Members       []Member
}

// Member scripts one cluster of a global database. The writer's Readers list is derived from
// the other members, as RDS reports it.
type Member struct {
	ARN             string // arn:aws:rds:<region>:<account>:cluster:<id>
	IsWriter        bool
	WriteForwarding string // GlobalWriteForwardingStatus; "" leaves it out
	Sync            string // SynchronizationStatus; "" leaves it out
}

// FailoverState scripts the FailoverState of a global cluster.
type FailoverState struct {
	Status   string // pending | failing-over | cancelling | switching-over
	From, To string // cluster ARNs
	DataLoss bool
}

type globalCluster struct {
	GlobalCluster
	failover *FailoverState
	op       *operation
}

// operation is a switchover or failover in progress. polls counts DescribeGlobalClusters calls
// since it started; the fake moves one step per poll, as the real one moves on with time.
type operation struct {
	from, to   int // member indexes
	dataLoss   bool
	polls      int
	forwarding bool // the old secondary forwarded writes: the new secondary will
}

// PutGlobalCluster adds or replaces a global cluster.
func (s *Server) PutGlobalCluster(gc GlobalCluster) {
	if gc.Engine == "" {
		gc.Engine = "aurora-postgresql"
	}
	if gc.EngineVersion == "" {
		gc.EngineVersion = "16.4"
	}
	if gc.Status == "" {
		gc.Status = "available"
	}
	gc.Members = slices.Clone(gc.Members)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.globals[gc.ID] = &globalCluster{GlobalCluster: gc}
}

// DeleteGlobalCluster removes a global cluster: DescribeGlobalClusters then answers
// GlobalClusterNotFoundFault.
func (s *Server) DeleteGlobalCluster(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.globals, id)
}

// UpdateMember changes one member (by ARN or cluster identifier) of a global cluster.
func (s *Server) UpdateMember(globalID, cluster string, fn func(*Member)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gc := s.globals[globalID]
	if gc == nil {
		panic("awsfake: no global cluster " + globalID)
	}
	i := gc.member(cluster, "")
	if i < 0 {
		panic("awsfake: no member " + cluster + " in " + globalID)
	}
	fn(&gc.Members[i])
}

// SetFailoverState sets (or, with nil, clears) the FailoverState reported for a global
// cluster, for a test that needs an operation started elsewhere. It does not progress.
func (s *Server) SetFailoverState(globalID string, fs *FailoverState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gc := s.globals[globalID]
	if gc == nil {
		panic("awsfake: no global cluster " + globalID)
	}
	gc.failover, gc.op = fs, nil
	gc.Status = "available"
	if fs != nil {
		gc.Status = fs.Status
	}
}

// GlobalClusterState returns the current state of a global cluster, as the next describe
// would show it before moving on.
func (s *Server) GlobalClusterState(id string) (GlobalCluster, *FailoverState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gc := s.globals[id]
	if gc == nil {
		return GlobalCluster{}, nil, false
	}
	out := gc.GlobalCluster
	out.Members = slices.Clone(out.Members)
	var fs *FailoverState
	if gc.failover != nil {
		c := *gc.failover
		fs = &c
	}
	return out, fs, true
}

// member finds a member by ARN, or by cluster identifier when the member is in region (RDS
// resolves a bare identifier only in the caller's region); region "" matches any.
func (gc *globalCluster) member(cluster, region string) int {
	for i, m := range gc.Members {
		if m.ARN == cluster {
			return i
		}
	}
	if strings.HasPrefix(cluster, "arn:") {
		return -1
	}
	for i, m := range gc.Members {
		f := strings.Split(m.ARN, ":")
		if len(f) == 7 && f[6] == cluster && (region == "" || f[3] == region) {
			return i
		}
	}
	return -1
}

func (gc *globalCluster) writer() int {
	for i, m := range gc.Members {
		if m.IsWriter {
			return i
		}
	}
	return -1
}

// advance moves an operation in progress one poll on. The sequence, per poll after the call:
// 1..Steps-1 the operation runs (the target stops forwarding writes); at Steps the writer flips
// while FailoverState is still shown; after that FailoverState clears, the new secondary turns
// write forwarding on (enabling, then enabled) and, after a failover with data loss, the old
// primary resynchronises (pending-resync, then connected).
func (gc *globalCluster) advance(steps int) {
	op := gc.op
	if op == nil {
		return
	}
	op.polls++
	from, to := &gc.Members[op.from], &gc.Members[op.to]
	switch {
	case op.polls < steps:
		gc.failover.Status = gc.Status
		if to.WriteForwarding == ForwardingEnabled {
			to.WriteForwarding = ForwardingDisabling
		}
	case op.polls == steps:
		from.IsWriter, to.IsWriter = false, true
		if to.WriteForwarding != "" {
			to.WriteForwarding = ForwardingDisabled
		}
		if op.dataLoss {
			from.Sync = SyncPendingResync
		}
	case op.polls == steps+1:
		gc.failover, gc.Status = nil, "available"
		if op.forwarding {
			from.WriteForwarding = ForwardingEnabling
		}
	default:
		if op.forwarding {
			from.WriteForwarding = ForwardingEnabled
		}
		if from.Sync == SyncPendingResync {
			from.Sync = SyncConnected
		}
		gc.op = nil
	}
}

func (s *Server) serveRDS(w http.ResponseWriter, r *http.Request, sc scope) {
	p := awsQuery{}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		p.writeError(w, http.StatusNotFound, "Sender", "UnknownOperationException", "not an RDS Query API request")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		p.writeError(w, http.StatusBadRequest, "Sender", "MalformedQueryString", "Content-Type must be application/x-www-form-urlencoded")
		return
	}
	if err := r.ParseForm(); err != nil {
		p.writeError(w, http.StatusBadRequest, "Sender", "MalformedQueryString", err.Error())
		return
	}
	action := r.PostForm.Get("Action")
	if !s.begin(w, r, p, sc, action) {
		return
	}
	if v := r.PostForm.Get("Version"); v != "2014-10-31" {
		p.writeError(w, http.StatusBadRequest, "Sender", "InvalidAction", fmt.Sprintf("Could not find operation %s for version %s", action, v))
		return
	}
	switch action {
	case "DescribeGlobalClusters":
		s.describeGlobalClusters(w, r)
	case "DescribeDBClusters":
		s.describeDBClusters(w, r, sc)
	case "SwitchoverGlobalCluster":
		s.startOperation(w, r, sc, action, false)
	case "FailoverGlobalCluster":
		s.startOperation(w, r, sc, action, true)
	default:
		p.writeError(w, http.StatusBadRequest, "Sender", "InvalidAction", fmt.Sprintf("The action %s is not valid for this web service.", action))
	}
}

func (s *Server) describeGlobalClusters(w http.ResponseWriter, r *http.Request) {
	p := awsQuery{}
	id := r.PostForm.Get("GlobalClusterIdentifier")
	s.mu.Lock()
	var list []xmlGlobalCluster
	for _, key := range sortedKeys(s.globals) {
		gc := s.globals[key]
		if id != "" && key != id {
			continue
		}
		list = append(list, gc.xml())
		gc.advance(s.Steps)
	}
	s.mu.Unlock()
	if id != "" && len(list) == 0 {
		p.writeError(w, http.StatusNotFound, "Sender", "GlobalClusterNotFoundFault", fmt.Sprintf("Global cluster %s not found.", id))
		return
	}
	var res describeResult
	res.GlobalClusters.Items = list
	p.write(w, "DescribeGlobalClusters", res)
}

func (s *Server) startOperation(w http.ResponseWriter, r *http.Request, sc scope, action string, failover bool) {
	p := awsQuery{}
	id, target := r.PostForm.Get("GlobalClusterIdentifier"), r.PostForm.Get("TargetDbClusterIdentifier")
	if id == "" || target == "" {
		missing := "GlobalClusterIdentifier"
		if id != "" {
			missing = "TargetDbClusterIdentifier"
		}
		p.writeError(w, http.StatusBadRequest, "Sender", "MissingParameter", fmt.Sprintf("The request must contain the parameter %s", missing))
		return
	}
	dataLoss := failover && r.PostForm.Get("AllowDataLoss") == "true"
	if failover && dataLoss && r.PostForm.Get("Switchover") == "true" {
		p.writeError(w, http.StatusBadRequest, "Sender", "InvalidParameterCombination", "Cannot specify both AllowDataLoss and Switchover.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	gc := s.globals[id]
	if gc == nil {
		p.writeError(w, http.StatusNotFound, "Sender", "GlobalClusterNotFoundFault", fmt.Sprintf("Global cluster %s not found.", id))
		return
	}
	to := gc.member(target, sc.region)
	if to < 0 {
		p.writeError(w, http.StatusNotFound, "Sender", "DBClusterNotFoundFault", fmt.Sprintf("DBCluster %s not found.", target))
		return
	}
	if gc.failover != nil {
		p.writeError(w, http.StatusBadRequest, "Sender", "InvalidGlobalClusterStateFault",
			fmt.Sprintf("Global cluster %s is in %s state.", id, gc.failover.Status))
		return
	}
	from := gc.writer()
	if from == to {
		p.writeError(w, http.StatusBadRequest, "Sender", "InvalidGlobalClusterStateFault",
			fmt.Sprintf("Cluster %s is already the primary cluster of global cluster %s.", gc.Members[to].ARN, id))
		return
	}
	if from < 0 {
		p.writeError(w, http.StatusBadRequest, "Sender", "InvalidGlobalClusterStateFault", fmt.Sprintf("Global cluster %s has no primary cluster.", id))
		return
	}
	if !dataLoss && gc.Members[to].Sync == SyncPendingResync {
		p.writeError(w, http.StatusBadRequest, "Sender", "InvalidDBClusterStateFault",
			fmt.Sprintf("Cluster %s is not synchronized with the primary cluster.", gc.Members[to].ARN))
		return
	}
	status := "switching-over"
	if dataLoss {
		status = "failing-over"
	}
	gc.op = &operation{from: from, to: to, dataLoss: dataLoss, forwarding: gc.Members[to].WriteForwarding == ForwardingEnabled}
	gc.failover = &FailoverState{Status: "pending", From: gc.Members[from].ARN, To: gc.Members[to].ARN, DataLoss: dataLoss}
	gc.Status = status
	p.write(w, action, operationResult{GlobalCluster: gc.xml()})
}

type describeResult struct {
	GlobalClusters struct {
		Items []xmlGlobalCluster `xml:"GlobalClusterMember"`
	}
}

type operationResult struct {
	GlobalCluster xmlGlobalCluster
}

type xmlGlobalCluster struct {
	GlobalClusterIdentifier string
	GlobalClusterResourceID string `xml:"GlobalClusterResourceId"`
	GlobalClusterArn        string
	Status                  string
	Engine                  string
	EngineVersion           string
	StorageEncrypted        bool
	DeletionProtection      bool
	Members                 struct {
		Items []xmlMember `xml:"GlobalClusterMember"`
	} `xml:"GlobalClusterMembers"`
	Endpoint      string
	FailoverState *xmlFailoverState `xml:",omitempty"`
	TagList       struct{}
}

type xmlMember struct {
	DBClusterArn string
	Readers      struct {
		Items []string `xml:"member"`
	}
	IsWriter                    bool
	GlobalWriteForwardingStatus string `xml:",omitempty"`
	SynchronizationStatus       string `xml:",omitempty"`
}

type xmlFailoverState struct {
	Status            string
	FromDbClusterArn  string
	ToDbClusterArn    string
	IsDataLossAllowed bool
}

func (gc *globalCluster) xml() xmlGlobalCluster {
	account := "123456789012"
	if len(gc.Members) > 0 {
		if f := strings.Split(gc.Members[0].ARN, ":"); len(f) == 7 {
			account = f[4]
		}
	}
	x := xmlGlobalCluster{
		GlobalClusterIdentifier: gc.ID,
		GlobalClusterResourceID: "cluster-" + strings.ToLower(strings.ReplaceAll(gc.ID, "-", "")),
		GlobalClusterArn:        fmt.Sprintf("arn:aws:rds::%s:global-cluster:%s", account, gc.ID),
		Status:                  gc.Status,
		Engine:                  gc.Engine,
		EngineVersion:           gc.EngineVersion,
		StorageEncrypted:        true,
		Endpoint:                gc.ID + ".global-abc123def.global.rds.amazonaws.com",
	}
	w := gc.writer()
	for i, m := range gc.Members {
		xm := xmlMember{DBClusterArn: m.ARN, IsWriter: m.IsWriter, GlobalWriteForwardingStatus: m.WriteForwarding, SynchronizationStatus: m.Sync}
		if i == w {
			for j, o := range gc.Members {
				if j != i {
					xm.Readers.Items = append(xm.Readers.Items, o.ARN)
				}
			}
		}
		x.Members.Items = append(x.Members.Items, xm)
	}
	if fs := gc.failover; fs != nil {
		x.FailoverState = &xmlFailoverState{Status: fs.Status, FromDbClusterArn: fs.From, ToDbClusterArn: fs.To, IsDataLossAllowed: fs.DataLoss}
	}
	return x
}

// awsQuery answers in the RDS Query protocol: <ActionResponse><ActionResult>…</ActionResult>
// <ResponseMetadata/></ActionResponse>, errors as <ErrorResponse><Error>….
type awsQuery struct{}

func (awsQuery) write(w http.ResponseWriter, action string, result any) {
	id := requestID()
	var inner bytes.Buffer
	if err := xml.NewEncoder(&inner).EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
		panic(err)
	}
	body, err := xml.Marshal(struct {
		XMLName   xml.Name
		Xmlns     string `xml:"xmlns,attr"`
		Result    string `xml:",innerxml"`
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}{XMLName: xml.Name{Local: action + "Response"}, Xmlns: rdsXMLNS, Result: inner.String(), RequestID: id})
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", id)
	_, _ = w.Write(append([]byte(xml.Header), body...))
}

func (q awsQuery) writeError(w http.ResponseWriter, status int, fault, code, message string) {
	q.writeErrorNS(w, rdsXMLNS, status, fault, code, message)
}

// writeErrorNS writes the <ErrorResponse> document RDS and Route 53 share.
func (awsQuery) writeErrorNS(w http.ResponseWriter, ns string, status int, fault, code, message string) {
	id := requestID()
	body, err := xml.Marshal(struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		Xmlns   string   `xml:"xmlns,attr"`
		Error   struct {
			Type, Code, Message string
		}
		RequestID string `xml:"RequestId"`
	}{Xmlns: ns, Error: struct{ Type, Code, Message string }{fault, code, message}, RequestID: id})
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", id)
	w.WriteHeader(status)
	_, _ = w.Write(append([]byte(xml.Header), body...))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
