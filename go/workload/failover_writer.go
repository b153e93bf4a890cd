// The failover-writer subcommand: the drills' steady writer (drills/writer.py: its flags, its
// progress lines and its result document) with go-redis v9's Sentinel client instead of
// redis-py's. redis.NewFailoverClient subscribes to +switch-master on a sentinel and drops its
// connections to the old master when the message arrives; redis-py asks the sentinels again only
// when a connection fails. The drills measure both through the same runner.
//
//	gateway-workload failover-writer -sentinels HOST:PORT,... -master-set NAME [-rate 100]
//	                                 [-max-seconds 300] [-prefix P]
//
// Passwords come from REDIS_PASSWORD and SENTINEL_PASSWORD in the environment. The client has the
// Gateway's pool, timeouts and retries. A write counts as acknowledged only when its OK arrived;
// the run stops when stdin closes or after -max-seconds, then every acknowledged key is looked up
// on the master the sentinels name.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// The failover client's replies cannot be told apart by node: every ack is this node's.
	failoverNode      = "failover-client"
	writerVerifyBatch = 500
	writerErrorKept   = 20
)

type writerResult struct {
	Prefix         string         `json:"prefix"`
	Rate           float64        `json:"rate"`
	StartedAt      float64        `json:"started_at"`
	StoppedAt      float64        `json:"stopped_at"`
	StoppedBy      string         `json:"stopped_by"`
	Attempts       int            `json:"attempts"`
	Acked          int            `json:"acked"`
	Nodes          []string       `json:"nodes"`
	Acks           []writerAck    `json:"acks"`
	Errors         map[string]int `json:"errors"`
	ErrorSamples   [][3]any       `json:"error_samples"`
	FirstErrorAt   *float64       `json:"first_error_at"`
	LastErrorAt    *float64       `json:"last_error_at"`
	SlowestAttempt []any          `json:"slowest_attempt"`
	FinalMaster    *string        `json:"final_master"`
	Lost           []int          `json:"lost"`
	LostByNode     map[string]int `json:"lost_by_node"`
	VerifyError    string         `json:"verify_error,omitempty"`
	Client         map[string]any `json:"client"`
	// go-redis's own log lines ("sentinel: selected addr=...", "new master=..."), each with the
	// epoch time it was written: which sentinel the client followed and when it switched.
	ClientLog [][2]any `json:"client_log"`
}

// clientLog keeps go-redis's log lines (redis.SetLogger) for the result, the first
// clientLogKept of them.
type clientLog struct {
	mu    sync.Mutex
	lines [][2]any
}

const clientLogKept = 200

func (l *clientLog) Printf(_ context.Context, format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) < clientLogKept {
		l.lines = append(l.lines, [2]any{epoch(time.Now()), truncate(fmt.Sprintf(format, v...), 300)})
	}
}

func (l *clientLog) taken() [][2]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][2]any{}, l.lines...)
}

// writerAck is one acknowledged write, [sequence, reply time, node index] in the result as in
// drills/writer.py's (the node index is always 0: failoverNode).
type writerAck struct {
	seq int
	at  float64
}

func (a writerAck) MarshalJSON() ([]byte, error) { return json.Marshal([3]any{a.seq, a.at, 0}) }

func epoch(t time.Time) float64 { return math.Round(float64(t.UnixNano())/1e5) / 1e4 }

// errorKind names an error as the Python writer's result does: by its kind, not its text.
func errorKind(err error) string {
	var redisErr redis.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), os.IsTimeout(err):
		return "TimeoutError"
	case errors.As(err, &redisErr):
		if word, _, _ := strings.Cut(redisErr.Error(), " "); word != "" {
			return "ResponseError:" + word
		}
		return "ResponseError"
	default:
		return "ConnectionError"
	}
}

func sentinelList(text string) ([]string, error) {
	var addrs []string
	for _, item := range strings.Split(text, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if !strings.Contains(item, ":") {
			item += ":26379"
		}
		addrs = append(addrs, item)
	}
	if len(addrs) == 0 {
		return nil, errors.New("-sentinels names no sentinel")
	}
	return addrs, nil
}

func failoverWriter(argv []string) int {
	flags := flag.NewFlagSet("failover-writer", flag.ContinueOnError)
	sentinels := flags.String("sentinels", "", "comma-separated HOST[:PORT] of the sentinels")
	masterSet := flags.String("master-set", "", "the master set's name")
	rate := flags.Float64("rate", 100, "write attempts per second")
	maxSeconds := flags.Float64("max-seconds", 300, "hard bound of the run")
	prefix := flags.String("prefix", "drill:"+strconv.FormatInt(time.Now().Unix(), 10), "key prefix of this run")
	if err := flags.Parse(argv); err != nil {
		return 2
	}
	addrs, err := sentinelList(*sentinels)
	if err != nil || *masterSet == "" || *rate <= 0 || *rate > 1000 || *maxSeconds <= 0 || *maxSeconds > 3600 {
		fmt.Fprintln(os.Stderr, "failover-writer: -sentinels and -master-set are required; -rate in (0, 1000], -max-seconds in (0, 3600]")
		return 2
	}
	logged := &clientLog{}
	redis.SetLogger(logged)
	started := time.Now()
	deadline := started.Add(time.Duration(*maxSeconds * float64(time.Second)))
	client := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName: *masterSet, SentinelAddrs: addrs,
		SentinelPassword: os.Getenv("SENTINEL_PASSWORD"), Password: os.Getenv("REDIS_PASSWORD"),
		// The Gateway's client settings (main.go), so that the stall is the one it would see.
		PoolSize: 10, MinIdleConns: 2,
		DialTimeout: 5 * time.Second, ReadTimeout: 3 * time.Second, WriteTimeout: 3 * time.Second,
		MaxRetries: 3, MinRetryBackoff: 8 * time.Millisecond, MaxRetryBackoff: 512 * time.Millisecond,
	})
	defer client.Close()

	var stop atomic.Bool
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop.Store(true)
	}()
	res := writerResult{Prefix: *prefix, Rate: *rate, StartedAt: epoch(started), Nodes: []string{failoverNode},
		Acks: []writerAck{}, Errors: map[string]int{}, ErrorSamples: [][3]any{},
		Client: map[string]any{"library": "go-redis/v9", "kind": "FailoverClient", "pool": 10,
			"read_timeout_s": 3, "max_retries": 3}}
	interval := time.Duration(float64(time.Second) / *rate)
	next := time.Now()
	lastProgress := next
	var slowest time.Duration
	for !stop.Load() && time.Now().Before(deadline) {
		res.Attempts++
		seq := res.Attempts
		t0 := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := client.Set(ctx, fmt.Sprintf("%s:%d", *prefix, seq), seq, 0).Err()
		cancel()
		now := time.Now()
		outcome := "acknowledged"
		if err == nil {
			res.Acks = append(res.Acks, writerAck{seq, epoch(now)})
		} else {
			kind := errorKind(err)
			outcome = kind + ": " + err.Error()
			res.Errors[kind]++
			at := epoch(now)
			if res.FirstErrorAt == nil {
				res.FirstErrorAt = &at
			}
			res.LastErrorAt = &at
			if len(res.ErrorSamples) < writerErrorKept {
				res.ErrorSamples = append(res.ErrorSamples, [3]any{seq, at, truncate(outcome, 200)})
			}
		}
		if took := now.Sub(t0); took > slowest {
			slowest = took
			res.SlowestAttempt = []any{seq, epoch(t0), math.Round(took.Seconds()*1e4) / 1e4, truncate(outcome, 200)}
		}
		if now.Sub(lastProgress) >= time.Second {
			progress(res, now)
			lastProgress = now
		}
		next = next.Add(interval)
		if next.Before(now.Add(-interval)) {
			next = now
		}
		time.Sleep(time.Until(next))
	}
	res.StoppedAt = epoch(time.Now())
	res.StoppedBy = "max-seconds"
	if stop.Load() {
		res.StoppedBy = "stdin"
	}
	res.Acked = len(res.Acks)
	verifyAcks(&res, addrs, *masterSet)
	res.ClientLog = logged.taken()
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "failover-writer:", err)
		return 1
	}
	if res.Lost == nil {
		return 2
	}
	return 0
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func progress(res writerResult, now time.Time) {
	errs := 0
	for _, n := range res.Errors {
		errs += n
	}
	var lastAck any
	if len(res.Acks) > 0 {
		lastAck = res.Acks[len(res.Acks)-1].at
	}
	line, _ := json.Marshal(map[string]any{"progress": map[string]any{
		"at": epoch(now), "attempts": res.Attempts, "acked": len(res.Acks), "last_ack_at": lastAck, "errors": errs}})
	fmt.Fprintln(os.Stderr, string(line))
}

// verifyAcks looks every acknowledged key up on the master the sentinels name now (retried for
// 30 s while it settles); res.Lost stays nil, with VerifyError, when no master answers as one.
func verifyAcks(res *writerResult, addrs []string, masterSet string) {
	deadline := time.Now().Add(30 * time.Second)
	ctx := context.Background()
	lastErr := errors.New("no attempt")
	for time.Now().Before(deadline) {
		master, err := namedMaster(ctx, addrs, masterSet)
		if err == nil {
			var lost []int
			lost, err = missingOn(ctx, master, res)
			if err == nil {
				res.FinalMaster = &master
				res.Lost = lost
				res.LostByNode = map[string]int{}
				if len(lost) > 0 {
					res.LostByNode[failoverNode] = len(lost)
				}
				return
			}
		}
		lastErr = err
		time.Sleep(time.Second)
	}
	res.VerifyError = lastErr.Error()
}

func namedMaster(ctx context.Context, addrs []string, masterSet string) (string, error) {
	var lastErr error
	for _, addr := range addrs {
		sentinel := redis.NewSentinelClient(&redis.Options{Addr: addr, Password: os.Getenv("SENTINEL_PASSWORD"),
			DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second})
		hostPort, err := sentinel.GetMasterAddrByName(ctx, masterSet).Result()
		sentinel.Close()
		if err == nil && len(hostPort) == 2 {
			return hostPort[0] + ":" + hostPort[1], nil
		}
		lastErr = fmt.Errorf("sentinel %s: %v", addr, err)
	}
	return "", lastErr
}

func missingOn(ctx context.Context, master string, res *writerResult) ([]int, error) {
	node := redis.NewClient(&redis.Options{Addr: master, Password: os.Getenv("REDIS_PASSWORD"),
		DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, MaxRetries: -1})
	defer node.Close()
	role, err := node.Do(ctx, "ROLE").Slice()
	if err != nil {
		return nil, fmt.Errorf("%s: ROLE: %v", master, err)
	}
	if len(role) == 0 || role[0] != "master" {
		return nil, fmt.Errorf("%s answers role %v", master, role)
	}
	lost := []int{}
	for start := 0; start < len(res.Acks); start += writerVerifyBatch {
		end := min(start+writerVerifyBatch, len(res.Acks))
		keys := make([]string, 0, end-start)
		for _, ack := range res.Acks[start:end] {
			keys = append(keys, fmt.Sprintf("%s:%d", res.Prefix, ack.seq))
		}
		values, err := node.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, fmt.Errorf("%s: MGET: %v", master, err)
		}
		for i, value := range values {
			if value == nil {
				lost = append(lost, res.Acks[start+i].seq)
			}
		}
	}
	return lost, nil
}
