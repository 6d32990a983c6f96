package awsfake

import (
	"crypto/rand"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

const route53XMLNS = "https://route53.amazonaws.com/doc/2013-04-01/"

// RecordSet is a simple (non-alias) resource record set.
type RecordSet struct {
	Name   string // fully qualified, with the trailing dot, as Route 53 stores it
	Type   string
	TTL    int64
	Values []string
}

type hostedZone struct {
	id, name string
	records  map[string]RecordSet // by "name type"
}

type change struct {
	id, comment string
	submitted   time.Time
	polls       int
}

// PutHostedZone adds an empty hosted zone, id without the /hostedzone/ prefix.
func (s *Server) PutHostedZone(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.zones[id] = &hostedZone{id: id, name: fqdn(name), records: map[string]RecordSet{}}
}

// RecordSet returns a record set of a hosted zone.
func (s *Server) RecordSet(zoneID, name, typ string) (RecordSet, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zones[zoneID]
	if z == nil {
		return RecordSet{}, false
	}
	rs, ok := z.records[fqdn(name)+" "+typ]
	rs.Values = slices.Clone(rs.Values)
	return rs, ok
}

func fqdn(name string) string {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

func (s *Server) serveRoute53(w http.ResponseWriter, r *http.Request, sc scope) {
	p := restXML{}
	path := strings.TrimPrefix(r.URL.EscapedPath(), "/2013-04-01/")
	switch {
	case r.Method == http.MethodPost && strings.HasPrefix(path, "hostedzone/") &&
		(strings.HasSuffix(path, "/rrset") || strings.HasSuffix(path, "/rrset/")):
		if !s.begin(w, r, p, sc, "ChangeResourceRecordSets") {
			return
		}
		zone := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(path, "hostedzone/"), "/"), "/rrset")
		s.changeRecordSets(w, r, zone)
	case r.Method == http.MethodGet && strings.HasPrefix(path, "change/"):
		if !s.begin(w, r, p, sc, "GetChange") {
			return
		}
		s.getChange(w, strings.TrimPrefix(path, "change/"))
	default:
		p.writeError(w, http.StatusNotFound, "Sender", "UnknownOperationException", "this fake answers ChangeResourceRecordSets and GetChange only")
	}
}

type xmlChangeBatchRequest struct {
	XMLName     xml.Name `xml:"ChangeResourceRecordSetsRequest"`
	ChangeBatch struct {
		Comment string
		Changes []struct {
			Action            string
			ResourceRecordSet struct {
				Name            string
				Type            string
				TTL             *int64
				SetIdentifier   string
				AliasTarget     *struct{ DNSName string }
				ResourceRecords []struct {
					Value string
				} `xml:"ResourceRecords>ResourceRecord"`
			}
		} `xml:"Changes>Change"`
	}
}

func (s *Server) changeRecordSets(w http.ResponseWriter, r *http.Request, zoneID string) {
	p := restXML{}
	body, err := io.ReadAll(r.Body)
	var req xmlChangeBatchRequest
	if err == nil {
		err = xml.Unmarshal(body, &req)
	}
	if err != nil {
		p.writeError(w, http.StatusBadRequest, "Sender", "InvalidInput", "Invalid XML ; "+err.Error())
		return
	}
	if len(req.ChangeBatch.Changes) == 0 {
		p.writeError(w, http.StatusBadRequest, "Sender", "InvalidInput", "1 validation error detected: Value null at 'changeBatch.changes' failed to satisfy constraint: Member must not be null")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zones[zoneID]
	if z == nil {
		p.writeError(w, http.StatusNotFound, "Sender", "NoSuchHostedZone", "No hosted zone found with ID: "+zoneID)
		return
	}
	// A change batch is all or nothing: validate on a copy.
	next := make(map[string]RecordSet, len(z.records))
	for k, v := range z.records {
		next[k] = v
	}
	var problems []string
	for _, c := range req.ChangeBatch.Changes {
		rrs := c.ResourceRecordSet
		name := fqdn(rrs.Name)
		key := name + " " + rrs.Type
		if rrs.AliasTarget != nil || rrs.SetIdentifier != "" {
			problems = append(problems, "this fake supports simple record sets only")
			continue
		}
		if rrs.TTL == nil {
			p.writeError(w, http.StatusBadRequest, "Sender", "InvalidInput",
				fmt.Sprintf("Invalid request: Missing field 'TTL' in Change with [Action=%s, Name=%s, Type=%s, SetIdentifier=null]", c.Action, rrs.Name, rrs.Type))
			return
		}
		if name != z.name && !strings.HasSuffix(name, "."+z.name) {
			problems = append(problems, fmt.Sprintf("RRSet with DNS name %s is not permitted in zone %s", name, z.name))
			continue
		}
		values := make([]string, 0, len(rrs.ResourceRecords))
		for _, rr := range rrs.ResourceRecords {
			values = append(values, rr.Value)
		}
		if len(values) == 0 {
			p.writeError(w, http.StatusBadRequest, "Sender", "InvalidInput", "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found none in Change with [Action="+c.Action+", Name="+rrs.Name+", Type="+rrs.Type+", SetIdentifier=null]")
			return
		}
		if rrs.Type == "CNAME" && len(values) > 1 {
			problems = append(problems, fmt.Sprintf("RRSet of type CNAME with DNS name %s contains more than one value", name))
			continue
		}
		_, exists := next[key]
		switch c.Action {
		case "CREATE":
			if exists {
				problems = append(problems, fmt.Sprintf("Tried to create resource record set [name='%s', type='%s'] but it already exists", name, rrs.Type))
				continue
			}
			fallthrough
		case "UPSERT":
			next[key] = RecordSet{Name: name, Type: rrs.Type, TTL: *rrs.TTL, Values: values}
		case "DELETE":
			if !exists {
				problems = append(problems, fmt.Sprintf("Tried to delete resource record set [name='%s', type='%s'] but it was not found", name, rrs.Type))
				continue
			}
			delete(next, key)
		default:
			p.writeError(w, http.StatusBadRequest, "Sender", "InvalidInput", "Invalid request: unknown action "+c.Action)
			return
		}
	}
	if len(problems) > 0 {
		p.writeInvalidChangeBatch(w, problems)
		return
	}
	z.records = next
	ch := &change{id: changeID(), comment: req.ChangeBatch.Comment, submitted: s.Now().UTC()}
	s.changes[ch.id] = ch
	p.writeChange(w, "ChangeResourceRecordSetsResponse", ch, "PENDING")
}

func (s *Server) getChange(w http.ResponseWriter, id string) {
	p := restXML{}
	s.mu.Lock()
	ch := s.changes[id]
	status := "PENDING"
	if ch != nil {
		ch.polls++
		if ch.polls > s.InsyncAfter {
			status = "INSYNC"
		}
	}
	s.mu.Unlock()
	if ch == nil {
		p.writeError(w, http.StatusNotFound, "Sender", "NoSuchChange", "A change with the specified change ID does not exist.")
		return
	}
	p.writeChange(w, "GetChangeResponse", ch, status)
}

func changeID() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b [13]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "C" + string(b[:])
}

// restXML answers in Route 53's REST-XML.
type restXML struct{}

func (restXML) writeChange(w http.ResponseWriter, root string, ch *change, status string) {
	type changeInfo struct {
		ID          string `xml:"Id"`
		Status      string
		SubmittedAt string
		Comment     string `xml:",omitempty"`
	}
	body, err := xml.Marshal(struct {
		XMLName    xml.Name
		Xmlns      string `xml:"xmlns,attr"`
		ChangeInfo changeInfo
	}{
		XMLName: xml.Name{Local: root}, Xmlns: route53XMLNS,
		ChangeInfo: changeInfo{ID: "/change/" + ch.id, Status: status, SubmittedAt: ch.submitted.Format("2006-01-02T15:04:05.000Z"), Comment: ch.comment},
	})
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", requestID())
	_, _ = w.Write(append([]byte(xml.Header), body...))
}

func (restXML) writeError(w http.ResponseWriter, status int, fault, code, message string) {
	awsQuery{}.writeErrorNS(w, route53XMLNS, status, fault, code, message)
}

// writeInvalidChangeBatch uses Route 53's own error document for rejected change batches.
func (restXML) writeInvalidChangeBatch(w http.ResponseWriter, messages []string) {
	body, err := xml.Marshal(struct {
		XMLName   xml.Name `xml:"InvalidChangeBatch"`
		Xmlns     string   `xml:"xmlns,attr"`
		Messages  []string `xml:"Messages>Message"`
		RequestID string   `xml:"RequestId"`
	}{Xmlns: route53XMLNS, Messages: messages, RequestID: requestID()})
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(append([]byte(xml.Header), body...))
}
