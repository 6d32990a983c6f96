package awsfake

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// CloudWatch v1.75+ of aws-sdk-go-v2 speaks smithy RPC v2 CBOR: POST
// /service/GraniteServiceVersion20100801/operation/<Op>, CBOR bodies, and, because the service
// is awsQueryCompatible, errors carry the old Query error code in x-amzn-query-error.
const cloudWatchPathPrefix = "/service/GraniteServiceVersion20100801/operation/"

// Aurora global database metrics (namespace AWS/RDS, dimension DBClusterIdentifier, reported
// by the secondary cluster's region, in milliseconds).
const (
	MetricRPOLag         = "AuroraGlobalDBRPOLag"
	MetricReplicationLag = "AuroraGlobalDBReplicationLag"
)

// Datapoint is one metric sample.
type Datapoint struct {
	At    time.Time
	Value float64
}

type metricKey struct {
	region, namespace, name, dims string
}

func dimsKey(dims map[string]string) string {
	parts := make([]string, 0, len(dims))
	for k, v := range dims {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// PutMetric records a sample. As in CloudWatch, a metric is its namespace, name and exact set
// of dimensions: a query with other dimensions does not see it.
func (s *Server) PutMetric(region, namespace, name string, dims map[string]string, dp Datapoint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := metricKey{region, namespace, name, dimsKey(dims)}
	s.metrics[k] = append(s.metrics[k], dp)
}

// PutAuroraLag records one RPO lag and one replication lag sample, ago before now, for an
// Aurora secondary cluster in region.
func (s *Server) PutAuroraLag(region, clusterID string, rpo, replication, ago time.Duration) {
	at := s.Now().Add(-ago)
	dims := map[string]string{"DBClusterIdentifier": clusterID}
	s.PutMetric(region, "AWS/RDS", MetricRPOLag, dims, Datapoint{At: at, Value: float64(rpo.Milliseconds())})
	s.PutMetric(region, "AWS/RDS", MetricReplicationLag, dims, Datapoint{At: at, Value: float64(replication.Milliseconds())})
}

// ClearMetrics forgets every sample.
func (s *Server) ClearMetrics() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.metrics = map[metricKey][]Datapoint{}
}

var metricIDPattern = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

func (s *Server) serveCloudWatch(w http.ResponseWriter, r *http.Request, sc scope) {
	p := rpcCBOR{}
	op, found := strings.CutPrefix(r.URL.Path, cloudWatchPathPrefix)
	if !found || r.Method != http.MethodPost || r.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" {
		p.writeError(w, http.StatusNotFound, "Sender", "UnknownOperationException", "not a CloudWatch RPC v2 CBOR request")
		return
	}
	if !s.begin(w, r, p, sc, op) {
		return
	}
	if op != "GetMetricData" {
		p.writeError(w, http.StatusBadRequest, "Sender", "UnknownOperationException", "this fake only answers GetMetricData")
		return
	}
	if r.Header.Get("Content-Type") != "application/cbor" {
		p.writeError(w, http.StatusBadRequest, "Sender", "SerializationException", "Content-Type must be application/cbor")
		return
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		p.writeError(w, http.StatusBadRequest, "Sender", "SerializationException", err.Error())
		return
	}
	v, err := cbor.Decode(raw)
	in, ok := v.(cbor.Map)
	if err != nil || !ok {
		p.writeError(w, http.StatusBadRequest, "Sender", "SerializationException", "request body is not a CBOR map")
		return
	}
	out, code, msg := s.getMetricData(sc.region, in)
	if code != "" {
		p.writeError(w, http.StatusBadRequest, "Sender", code, msg)
		return
	}
	p.write(w, out)
}

// getMetricData answers GetMetricData for MetricStat queries: samples in [StartTime, EndTime)
// grouped into Period buckets, reduced with Stat, newest first unless ScanBy says otherwise.
func (s *Server) getMetricData(region string, in cbor.Map) (cbor.Map, string, string) {
	start, err1 := cbor.AsTime(in["StartTime"])
	end, err2 := cbor.AsTime(in["EndTime"])
	if err1 != nil || err2 != nil {
		return nil, "MissingParameter", "The parameters StartTime and EndTime are required."
	}
	if !start.Before(end) {
		return nil, "InvalidParameterValue", "The parameter StartTime must be less than the parameter EndTime."
	}
	ascending := false
	if sb, ok := in["ScanBy"].(cbor.String); ok {
		ascending = sb == "TimestampAscending"
	}
	queries, _ := in["MetricDataQueries"].(cbor.List)
	if len(queries) == 0 {
		return nil, "MissingParameter", "The parameter MetricDataQueries is required."
	}
	results := cbor.List{}
	for _, qv := range queries {
		q, _ := qv.(cbor.Map)
		id, _ := q["Id"].(cbor.String)
		if !metricIDPattern.MatchString(string(id)) {
			return nil, "InvalidParameterValue", fmt.Sprintf("The value %s for parameter MetricDataQueries.member.Id is invalid.", id)
		}
		ms, ok := q["MetricStat"].(cbor.Map)
		if !ok {
			return nil, "InvalidParameterValue", "This fake only answers MetricStat queries."
		}
		metric, _ := ms["Metric"].(cbor.Map)
		ns, _ := metric["Namespace"].(cbor.String)
		name, _ := metric["MetricName"].(cbor.String)
		stat, _ := ms["Stat"].(cbor.String)
		period, err := cbor.AsInt64(ms["Period"])
		if err != nil || period <= 0 || (period >= 60 && period%60 != 0) {
			return nil, "InvalidParameterValue", "The parameter Period must be a multiple of 60."
		}
		dims := map[string]string{}
		dl, _ := metric["Dimensions"].(cbor.List)
		for _, dv := range dl {
			d, _ := dv.(cbor.Map)
			k, _ := d["Name"].(cbor.String)
			v, _ := d["Value"].(cbor.String)
			dims[string(k)] = string(v)
		}
		s.mu.Lock()
		samples := slices.Clone(s.metrics[metricKey{region, string(ns), string(name), dimsKey(dims)}])
		s.mu.Unlock()
		times, values, err := aggregate(samples, start, end, time.Duration(period)*time.Second, string(stat), ascending)
		if err != nil {
			return nil, "InvalidParameterValue", err.Error()
		}
		ts := cbor.List{}
		for _, t := range times {
			ts = append(ts, &cbor.Tag{ID: 1, Value: cbor.Float64(float64(t.UnixMilli()) / 1e3)})
		}
		vs := cbor.List{}
		for _, v := range values {
			vs = append(vs, cbor.Float64(v))
		}
		results = append(results, cbor.Map{
			"Id": id, "Label": name, "Timestamps": ts, "Values": vs,
			"StatusCode": cbor.String("Complete"), "Messages": cbor.List{},
		})
	}
	return cbor.Map{"MetricDataResults": results, "Messages": cbor.List{}}, "", ""
}

func aggregate(samples []Datapoint, start, end time.Time, period time.Duration, stat string, ascending bool) ([]time.Time, []float64, error) {
	buckets := map[time.Time][]float64{}
	for _, dp := range samples {
		if dp.At.Before(start) || !dp.At.Before(end) {
			continue
		}
		b := start.Add(dp.At.Sub(start) / period * period)
		buckets[b] = append(buckets[b], dp.Value)
	}
	times := make([]time.Time, 0, len(buckets))
	for t := range buckets {
		times = append(times, t)
	}
	sort.Slice(times, func(i, j int) bool {
		if ascending {
			return times[i].Before(times[j])
		}
		return times[i].After(times[j])
	})
	values := make([]float64, 0, len(times))
	for _, t := range times {
		vs := buckets[t]
		var v float64
		switch stat {
		case "Maximum":
			v = slices.Max(vs)
		case "Minimum":
			v = slices.Min(vs)
		case "Sum", "Average":
			for _, x := range vs {
				v += x
			}
			if stat == "Average" {
				v /= float64(len(vs))
			}
		case "SampleCount":
			v = float64(len(vs))
		default:
			return nil, nil, fmt.Errorf("this fake does not compute the statistic %q", stat)
		}
		values = append(values, v)
	}
	return times, values, nil
}

// rpcCBOR answers in smithy RPC v2 CBOR.
type rpcCBOR struct{}

func (rpcCBOR) write(w http.ResponseWriter, v cbor.Map) {
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("X-Amzn-Requestid", requestID())
	_, _ = w.Write(cbor.Encode(v))
}

// cborErrors maps Query error codes to the shape ids CloudWatch puts in __type.
var cborErrors = map[string]string{
	"InvalidClientTokenId":       "com.amazon.coral.service#UnrecognizedClientException",
	"AccessDenied":               "com.amazon.coral.service#AccessDeniedException",
	"MissingAuthenticationToken": "com.amazon.coral.service#MissingAuthenticationTokenException",
	"SignatureDoesNotMatch":      "com.amazon.coral.service#InvalidSignatureException",
	"UnknownOperationException":  "com.amazon.coral.service#UnknownOperationException",
	"SerializationException":     "com.amazon.coral.service#SerializationException",
	"ServiceUnavailable":         "com.amazon.coral.availability#ServiceUnavailableException",
	"InternalServiceFault":       "com.amazonaws.cloudwatch#InternalServiceFault",
	"InvalidParameterValue":      "com.amazonaws.cloudwatch#InvalidParameterValueException",
	"MissingParameter":           "com.amazonaws.cloudwatch#MissingRequiredParameterException",
}

func (rpcCBOR) writeError(w http.ResponseWriter, status int, fault, code, message string) {
	typ := cborErrors[code]
	if typ == "" {
		typ = "com.amazonaws.cloudwatch#" + code
	}
	queryCode, msgKey := code, "message"
	if code == "InternalServiceFault" {
		// The modeled fault's Query code differs from its shape name, and its member is
		// capitalised.
		queryCode, msgKey = "InternalServiceError", "Message"
	}
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("X-Amzn-Requestid", requestID())
	w.Header().Set("X-Amzn-Query-Error", queryCode+";"+fault)
	w.WriteHeader(status)
	_, _ = w.Write(cbor.Encode(cbor.Map{"__type": cbor.String(typ), msgKey: cbor.String(message)}))
}
