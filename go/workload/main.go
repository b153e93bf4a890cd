// Command gateway-workload sends Kubernaut Gateway's Redis traffic to one Redis address and prints
// what it measured as one JSON document on stdout.
//
// The client is configured as the Gateway configures its own (go-redis v9, a plain client with one
// address: pool 10, 2 idle, dial timeout 5 s, read/write 3 s, 3 retries with 8-512 ms backoff).
// Each alert is the Gateway's sequence for a NEW alert (dedup check and lock, storm counters,
// pattern window, the fingerprint's metadata hash), 14 round trips and 15 commands:
//
//	EXISTS fp | SET lock 1 EX 5 NX | INCR rate | EXPIRE rate 60 | ZADD pattern | ZREMRANGEBYSCORE
//	pattern | EXPIRE pattern 120 | ZCARD pattern | ZRANGE pattern 0 9 | HSET fp (8 fields) and
//	EXPIRE fp 300 in one pipeline | HINCRBY fp | TTL fp | HGETALL fp | DEL lock
//
// Keys are the Gateway's: fingerprints are unique per alert (they churn, with TTLs), the storm
// counters and pattern windows are shared by -names alert names.
//
// Modes:
//   - open loop (-rate N alerts/s): alert i is due at start + i/N; its latency counts from when it
//     was due, so waiting for a pooled connection is part of it (no coordinated omission);
//   - closed loop (-rate 0): -pool workers send alerts back to back: the saturation throughput.
//
// Latencies go into log-linear histograms (buckets 2% wide), so the caller can merge runs.
//
// `gateway-workload failover-writer ...` is the drills' steady writer with go-redis's Sentinel
// client instead (failover_writer.go).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// RoundTrips is the number of round trips of one alert, CommandsPerAlert its commands.
const (
	RoundTrips       = 14
	CommandsPerAlert = 15
	bucketGrowth     = 1.02
)

// Histogram counts durations in microseconds in buckets whose upper bounds grow by 2%.
type Histogram struct {
	mu     sync.Mutex
	counts map[int]int64
	max    time.Duration
	total  int64
}

func NewHistogram() *Histogram { return &Histogram{counts: map[int]int64{}} }

func bucketOf(d time.Duration) int {
	us := float64(d) / float64(time.Microsecond)
	if us <= 1 {
		return 0
	}
	return int(math.Ceil(math.Log(us) / math.Log(bucketGrowth)))
}

// UpperMicros is the upper bound of a bucket in microseconds.
func UpperMicros(bucket int) float64 { return math.Pow(bucketGrowth, float64(bucket)) }

func (h *Histogram) Record(d time.Duration) {
	b := bucketOf(d)
	h.mu.Lock()
	h.counts[b]++
	h.total++
	if d > h.max {
		h.max = d
	}
	h.mu.Unlock()
}

// Percentile is the upper bound of the bucket holding the nearest-rank percentile, in ms.
func (h *Histogram) Percentile(p float64) float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.total == 0 {
		return 0
	}
	rank := int64(math.Ceil(p / 100 * float64(h.total)))
	if rank < 1 {
		rank = 1
	}
	keys := make([]int, 0, len(h.counts))
	for k := range h.counts {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var seen int64
	for _, k := range keys {
		seen += h.counts[k]
		if seen >= rank {
			return math.Min(UpperMicros(k), float64(h.max)/float64(time.Microsecond)) / 1000
		}
	}
	return float64(h.max) / float64(time.Millisecond)
}

// Summary is a histogram as JSON: the buckets ("upper bound in µs": count) and a few percentiles.
type Summary struct {
	Count   int64            `json:"count"`
	P50     float64          `json:"p50_ms"`
	P95     float64          `json:"p95_ms"`
	P99     float64          `json:"p99_ms"`
	Max     float64          `json:"max_ms"`
	Buckets map[string]int64 `json:"buckets_us"`
}

func (h *Histogram) Summary() Summary {
	s := Summary{P50: h.Percentile(50), P95: h.Percentile(95), P99: h.Percentile(99)}
	h.mu.Lock()
	defer h.mu.Unlock()
	s.Count, s.Max = h.total, float64(h.max)/float64(time.Millisecond)
	s.Buckets = make(map[string]int64, len(h.counts))
	for k, c := range h.counts {
		s.Buckets[strconv.FormatFloat(UpperMicros(k), 'f', 1, 64)] = c
	}
	return s
}

// Gateway is one alert sender: its client and the key space it writes.
type Gateway struct {
	client *redis.Client
	names  int
	prefix string
	seq    atomic.Int64
	alert  *Histogram // one alert's 14 round trips, from when it was due
	trip   *Histogram // one round trip
	errors atomic.Int64
	sample sync.Mutex
	errs   map[string]int64
}

func fingerprint() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// trip1 times one round trip; its error is counted (with a few samples) and returned.
func (g *Gateway) trip1(f func() error) error {
	start := time.Now()
	err := f()
	if err != nil && !errors.Is(err, redis.Nil) {
		g.errors.Add(1)
		g.sample.Lock()
		if len(g.errs) < 20 {
			g.errs[err.Error()]++
		}
		g.sample.Unlock()
		return err
	}
	g.trip.Record(time.Since(start))
	return nil
}

// Alert sends one new alert's commands in the Gateway's order; an error ends the alert.
func (g *Gateway) Alert(ctx context.Context, due time.Time) error {
	n := g.seq.Add(1)
	name := fmt.Sprintf("Alert%03d", n%int64(g.names))
	fp := g.prefix + "gateway:dedup:fingerprint:" + fingerprint()
	lock := g.prefix + "gateway:dedup:lock:" + fp[len(fp)-64:]
	rate := g.prefix + "alert:storm:rate:" + name
	pattern := g.prefix + "alert:pattern:" + name
	now := time.Now()
	c := g.client
	steps := []func() error{
		func() error { return c.Exists(ctx, fp).Err() },
		func() error { return c.SetNX(ctx, lock, "1", 5*time.Second).Err() },
		func() error { return c.Incr(ctx, rate).Err() },
		func() error { return c.Expire(ctx, rate, 60*time.Second).Err() },
		func() error {
			return c.ZAdd(ctx, pattern, redis.Z{Score: float64(now.UnixMilli()), Member: fp[len(fp)-16:]}).Err()
		},
		func() error {
			return c.ZRemRangeByScore(ctx, pattern, "0", strconv.FormatInt(now.Add(-time.Minute).UnixMilli(), 10)).Err()
		},
		func() error { return c.Expire(ctx, pattern, 120*time.Second).Err() },
		func() error { return c.ZCard(ctx, pattern).Err() },
		func() error { return c.ZRange(ctx, pattern, 0, 9).Err() },
		func() error {
			_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				p.HSet(ctx, fp, "fingerprint", fp[len(fp)-64:], "alertName", name, "namespace", "kubernaut-system",
					"severity", "critical", "firstSeen", now.Unix(), "lastSeen", now.Unix(), "count", 1,
					"remediationRequestRef", "rr-"+fp[len(fp)-8:])
				p.Expire(ctx, fp, 300*time.Second)
				return nil
			})
			return err
		},
		func() error { return c.HIncrBy(ctx, fp, "count", 1).Err() },
		func() error { return c.TTL(ctx, fp).Err() },
		func() error { return c.HGetAll(ctx, fp).Err() },
		func() error { return c.Del(ctx, lock).Err() },
	}
	for _, step := range steps {
		if err := g.trip1(step); err != nil {
			return err
		}
	}
	g.alert.Record(time.Since(due))
	return nil
}

// Result is what one run measured.
type Result struct {
	Target          string           `json:"target"`
	Address         string           `json:"address"`
	Mode            string           `json:"mode"`
	RateAlerts      float64          `json:"rate_alerts_per_s"`
	Pool            int              `json:"pool"`
	Seconds         float64          `json:"seconds"`
	Alerts          int64            `json:"alerts"`
	FailedAlerts    int64            `json:"failed_alerts"`
	Errors          int64            `json:"errors"`
	ErrorSamples    map[string]int64 `json:"error_samples"`
	AlertsPerSecond float64          `json:"alerts_per_s"`
	TripsPerSecond  float64          `json:"round_trips_per_s"`
	Alert           Summary          `json:"alert"`
	RoundTrip       Summary          `json:"round_trip"`
	RoundTrips      int              `json:"round_trips_per_alert"`
	Commands        int              `json:"commands_per_alert"`
	Late            int64            `json:"alerts_started_late"`
}

func run(g *Gateway, rate float64, pool int, duration time.Duration) (int64, int64, int64, time.Duration) {
	ctx := context.Background()
	var done, failed, late atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	if rate > 0 {
		interval := time.Duration(float64(time.Second) / rate)
		total := int(duration / interval)
		for i := 0; i < total; i++ {
			due := start.Add(time.Duration(i) * interval)
			if wait := time.Until(due); wait > 0 {
				time.Sleep(wait)
			} else if wait < -time.Millisecond {
				late.Add(1)
			}
			wg.Add(1)
			go func(due time.Time) {
				defer wg.Done()
				if g.Alert(ctx, due) != nil {
					failed.Add(1)
				}
				done.Add(1)
			}(due)
		}
	} else {
		stop := start.Add(duration)
		for w := 0; w < pool; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(stop) {
					if g.Alert(ctx, time.Now()) != nil {
						failed.Add(1)
					}
					done.Add(1)
				}
			}()
		}
	}
	wg.Wait()
	return done.Load(), failed.Load(), late.Load(), time.Since(start)
}

// deleteKeys deletes every key under prefix, a SCAN page at a time (DEL: the Gateway's user may
// not UNLINK).
func deleteKeys(ctx context.Context, client *redis.Client, prefix string) (int64, error) {
	var cursor uint64
	var deleted int64
	for {
		keys, next, err := client.Scan(ctx, cursor, prefix+"*", 1000).Result()
		if err != nil {
			return deleted, err
		}
		if len(keys) > 0 {
			n, err := client.Del(ctx, keys...).Result()
			if err != nil {
				return deleted, err
			}
			deleted += n
		}
		if cursor = next; cursor == 0 {
			return deleted, nil
		}
	}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "failover-writer" {
		os.Exit(failoverWriter(os.Args[2:]))
	}
	target := flag.String("target", "endpoint", "the target's name in the output")
	addr := flag.String("addr", "", "host:port of the Redis to drive")
	passwordEnv := flag.String("password-env", "", "environment variable holding the password (none: no AUTH)")
	rate := flag.Float64("rate", 100, "alerts per second, open loop; 0: closed loop with -pool workers")
	seconds := flag.Float64("seconds", 20, "how long to send")
	warmup := flag.Float64("warmup", 2, "seconds of traffic before measuring (connections, pool), not counted")
	pool := flag.Int("pool", 10, "the client's pool size (the Gateway's: 10)")
	names := flag.Int("names", 50, "distinct alert names (storm counters and pattern windows)")
	prefix := flag.String("prefix", "bench:", "key prefix, so that the keys are told apart from real ones")
	cleanup := flag.Bool("cleanup", false, "send nothing: delete the keys under -prefix and print how many")
	flag.Parse()
	if *cleanup && len(*prefix) < 2 {
		fmt.Fprintln(os.Stderr, "gateway-workload: -cleanup needs a -prefix (it deletes every key under it)")
		os.Exit(2)
	}
	if *addr == "" || *seconds <= 0 || *rate < 0 || *pool < 1 || *names < 1 {
		fmt.Fprintln(os.Stderr, "gateway-workload: -addr is required; -seconds > 0, -rate >= 0, -pool >= 1, -names >= 1")
		os.Exit(2)
	}
	password := ""
	if *passwordEnv != "" {
		password = os.Getenv(*passwordEnv)
		if password == "" {
			fmt.Fprintf(os.Stderr, "gateway-workload: %s is empty\n", *passwordEnv)
			os.Exit(2)
		}
	}
	client := redis.NewClient(&redis.Options{
		Addr: *addr, Password: password, PoolSize: *pool, MinIdleConns: 2,
		DialTimeout: 5 * time.Second, ReadTimeout: 3 * time.Second, WriteTimeout: 3 * time.Second,
		MaxRetries: 3, MinRetryBackoff: 8 * time.Millisecond, MaxRetryBackoff: 512 * time.Millisecond,
	})
	defer client.Close()
	if err := client.Ping(context.Background()).Err(); err != nil {
		fmt.Fprintf(os.Stderr, "gateway-workload: %s (%s): %v\n", *target, *addr, err)
		os.Exit(1)
	}
	if *cleanup {
		deleted, err := deleteKeys(context.Background(), client, *prefix)
		if err != nil {
			fmt.Fprintf(os.Stderr, "gateway-workload: cleanup of %s*: %v\n", *prefix, err)
			os.Exit(1)
		}
		fmt.Printf("deleted %d keys under %s\n", deleted, *prefix)
		return
	}
	newGateway := func() *Gateway {
		return &Gateway{client: client, names: *names, prefix: *prefix, alert: NewHistogram(), trip: NewHistogram(),
			errs: map[string]int64{}}
	}
	if *warmup > 0 {
		warm := newGateway()
		warmRate := *rate
		if warmRate == 0 {
			warmRate = 100
		}
		run(warm, warmRate, *pool, time.Duration(*warmup*float64(time.Second)))
	}
	g := newGateway()
	done, failed, late, took := run(g, *rate, *pool, time.Duration(*seconds*float64(time.Second)))
	mode := "open"
	if *rate == 0 {
		mode = "closed"
	}
	result := Result{
		Target: *target, Address: *addr, Mode: mode, RateAlerts: *rate, Pool: *pool, Seconds: took.Seconds(),
		Alerts: done, FailedAlerts: failed, Errors: g.errors.Load(), ErrorSamples: g.errs,
		AlertsPerSecond: float64(done-failed) / took.Seconds(),
		TripsPerSecond:  float64(g.trip.Summary().Count) / took.Seconds(),
		Alert:           g.alert.Summary(), RoundTrip: g.trip.Summary(),
		RoundTrips: RoundTrips, Commands: CommandsPerAlert, Late: late,
	}
	out := json.NewEncoder(os.Stdout)
	if err := out.Encode(result); err != nil {
		fmt.Fprintln(os.Stderr, "gateway-workload:", err)
		os.Exit(1)
	}
}
