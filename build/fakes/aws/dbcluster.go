package awsfake

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Defaults of a DB cluster that is a global cluster's member but was not scripted with
// PutDBCluster: automated backups kept 7 days (the console's default) and the latest
// restorable time a minute behind the fake's clock (RDS keeps it within about 5 minutes).
const (
	DefaultBackupRetentionDays = 7
	DefaultRestorableLag       = time.Minute
)

// DBCluster scripts an Aurora DB cluster as DescribeDBClusters reports it: mainly its
// point-in-time restore window. Every member of a global cluster is also a DB cluster, with
// the defaults above unless PutDBCluster scripts it.
type DBCluster struct {
	ARN           string // arn:aws:rds:<region>:<account>:cluster:<id>
	Status        string // default available
	Engine        string // default aurora-postgresql
	EngineVersion string // default 16.4
	// BackupRetentionPeriod is in days (0: DefaultBackupRetentionDays).
	BackupRetentionPeriod int
	// EarliestRestorableTime and LatestRestorableTime bound point-in-time restore. Zero
	// leaves them out of the answer, as RDS does before a cluster's first automated backup.
	EarliestRestorableTime time.Time
	LatestRestorableTime   time.Time
}

// splitClusterARN returns the region and identifier of a DB cluster ARN.
func splitClusterARN(arn string) (region, id string, ok bool) {
	f := strings.Split(arn, ":")
	if len(f) != 7 || f[0] != "arn" || f[2] != "rds" || f[5] != "cluster" || f[3] == "" || f[6] == "" {
		return "", "", false
	}
	return f[3], f[6], true
}

// PutDBCluster adds or replaces a DB cluster; for a global cluster's member it replaces the
// defaults.
func (s *Server) PutDBCluster(c DBCluster) {
	if _, _, ok := splitClusterARN(c.ARN); !ok {
		panic("awsfake: not a DB cluster ARN: " + c.ARN)
	}
	if c.Status == "" {
		c.Status = "available"
	}
	if c.Engine == "" {
		c.Engine = "aurora-postgresql"
	}
	if c.EngineVersion == "" {
		c.EngineVersion = "16.4"
	}
	if c.BackupRetentionPeriod == 0 {
		c.BackupRetentionPeriod = DefaultBackupRetentionDays
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clusters[c.ARN] = &c
}

// dbClusters returns the DB clusters of region, scripted or derived from global cluster
// members, by ARN. The caller holds s.mu.
func (s *Server) dbClusters(region string) map[string]DBCluster {
	out := map[string]DBCluster{}
	now := s.Now().UTC()
	for _, gc := range s.globals {
		for _, m := range gc.Members {
			if r, _, ok := splitClusterARN(m.ARN); ok && r == region {
				out[m.ARN] = DBCluster{
					ARN: m.ARN, Status: "available", Engine: gc.Engine, EngineVersion: gc.EngineVersion,
					BackupRetentionPeriod:  DefaultBackupRetentionDays,
					EarliestRestorableTime: now.AddDate(0, 0, -DefaultBackupRetentionDays),
					LatestRestorableTime:   now.Add(-DefaultRestorableLag),
				}
			}
		}
	}
	for arn, c := range s.clusters {
		if r, _, _ := splitClusterARN(arn); r == region {
			out[arn] = *c
		}
	}
	return out
}

// describeDBClusters answers DescribeDBClusters. RDS is regional: DBClusterIdentifier (an
// identifier, in any case, or an ARN) finds only a cluster of the region the request was
// signed for.
func (s *Server) describeDBClusters(w http.ResponseWriter, r *http.Request, sc scope) {
	p := awsQuery{}
	id := r.PostForm.Get("DBClusterIdentifier")
	s.mu.Lock()
	all := s.dbClusters(sc.region)
	s.mu.Unlock()
	var res describeDBClustersResult
	for _, arn := range sortedKeys(all) {
		_, cid, _ := splitClusterARN(arn)
		if id == "" || id == arn || strings.EqualFold(id, cid) {
			res.DBClusters.Items = append(res.DBClusters.Items, all[arn].xml())
		}
	}
	if id != "" && len(res.DBClusters.Items) == 0 {
		p.writeError(w, http.StatusNotFound, "Sender", "DBClusterNotFoundFault", fmt.Sprintf("DBCluster %s not found.", id))
		return
	}
	p.write(w, "DescribeDBClusters", res)
}

type describeDBClustersResult struct {
	DBClusters struct {
		Items []xmlDBCluster `xml:"DBCluster"`
	}
}

// xmlDBCluster is the part of RDS's DBCluster element the plugin reads, with enough of the
// rest to look like RDS's answer.
type xmlDBCluster struct {
	AllocatedStorage        int
	BackupRetentionPeriod   int
	DBClusterIdentifier     string
	DBClusterParameterGroup string
	DBSubnetGroup           string
	Status                  string
	EarliestRestorableTime  string `xml:",omitempty"`
	Endpoint                string
	ReaderEndpoint          string
	MultiAZ                 bool
	Engine                  string
	EngineVersion           string
	LatestRestorableTime    string `xml:",omitempty"`
	Port                    int
	MasterUsername          string
	PreferredBackupWindow   string
	StorageEncrypted        bool
	DbClusterResourceID     string `xml:"DbClusterResourceId"`
	DBClusterArn            string
	EngineMode              string
	DeletionProtection      bool
}

// rdsTime is how RDS writes timestamps in the Query protocol: ISO 8601, UTC, milliseconds.
func rdsTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func (c DBCluster) xml() xmlDBCluster {
	region, id, _ := splitClusterARN(c.ARN)
	major, _, _ := strings.Cut(c.EngineVersion, ".")
	return xmlDBCluster{
		AllocatedStorage:        1,
		BackupRetentionPeriod:   c.BackupRetentionPeriod,
		DBClusterIdentifier:     id,
		DBClusterParameterGroup: "default." + c.Engine + major,
		DBSubnetGroup:           "default",
		Status:                  c.Status,
		EarliestRestorableTime:  rdsTime(c.EarliestRestorableTime),
		Endpoint:                id + ".cluster-abc123def." + region + ".rds.amazonaws.com",
		ReaderEndpoint:          id + ".cluster-ro-abc123def." + region + ".rds.amazonaws.com",
		MultiAZ:                 true,
		Engine:                  c.Engine,
		EngineVersion:           c.EngineVersion,
		LatestRestorableTime:    rdsTime(c.LatestRestorableTime),
		Port:                    5432,
		MasterUsername:          "postgres",
		PreferredBackupWindow:   "07:00-07:30",
		StorageEncrypted:        true,
		DbClusterResourceID:     "cluster-" + strings.ToUpper(strings.ReplaceAll(id, "-", "")),
		DBClusterArn:            c.ARN,
		EngineMode:              "provisioned",
		DeletionProtection:      true,
	}
}
