package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilot-hpc/pilot/scratchcache"
	"github.com/pilot-hpc/pilot/scratchcache/stage"
)

func init() {
	var root string
	var asJSON bool
	cache := &cobra.Command{
		Use:   "cache",
		Short: "Inspect and tidy the scratch cache: ls, du, verify, gc",
		Long: `The scratch cache keeps one directory per task, keyed by the task's content,
on the shared scratch filesystem: a retry resumes from its checkpoints and a
sealed (finished) task is never computed twice. These commands read and tidy
it; they are safe while pilots run (gc never evicts an entry a live attempt
holds).`,
	}
	cache.PersistentFlags().StringVar(&root, "root", os.Getenv("PILOT_CACHE_ROOT"), "the cache directory (default $PILOT_CACHE_ROOT)")
	cache.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON on stdout for scripts")
	var storeURI string
	open := func() (*scratchcache.Cache, error) {
		if root == "" {
			return nil, usageErr("--root is required (or set PILOT_CACHE_ROOT): the scratch cache directory")
		}
		if st, err := os.Stat(root); err != nil || !st.IsDir() {
			return nil, withHint(fmt.Errorf("scratch cache %s: not a directory", root), "check --root")
		}
		cfg := scratchcache.Config{Root: root}
		if storeURI != "" {
			s, err := stage.Open(storeURI, stage.Options{S3: stage.S3OptionsFromEnv()})
			if err != nil {
				return nil, usageErr("--store: %w", err)
			}
			cfg.Store = s
		}
		return scratchcache.New(cfg)
	}

	cache.AddCommand(&cobra.Command{
		Use:   "ls",
		Short: "List the entries: digest, state, task, attempt, size, last use",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := open()
			if err != nil {
				return err
			}
			infos, err := c.List(cmd.Context())
			if err != nil {
				return unavailable(err, "the scratch filesystem failed; retry later")
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), infos)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "DIGEST\tSTATE\tTASK\tATTEMPT\tSIZE\tLAST USED")
			for _, in := range infos {
				state, task, attempt := string(in.State), in.Task, strconv.Itoa(in.Attempt)
				if in.Silent {
					state += " (silent)" // no value, no files: a seal that records no task
				}
				if task == "" {
					task, attempt = "-", "-"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", in.Digest[:12], state, task, attempt,
					humanBytes(in.Bytes), in.LastUsed.UTC().Format(time.RFC3339))
			}
			return w.Flush()
		},
	})

	cache.AddCommand(&cobra.Command{
		Use:   "du",
		Short: "Count entries and bytes by state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := open()
			if err != nil {
				return err
			}
			infos, err := c.List(cmd.Context())
			if err != nil {
				return unavailable(err, "the scratch filesystem failed; retry later")
			}
			type usage struct {
				Entries int   `json:"entries"`
				Bytes   int64 `json:"bytes"`
			}
			by := map[string]*usage{"total": {}, scratchcache.StateSealed: {}, scratchcache.StateRunning: {}, scratchcache.StateIdle: {}}
			for _, in := range infos {
				for _, k := range []string{"total", in.State} {
					by[k].Entries++
					by[k].Bytes += in.Bytes
				}
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), by)
			}
			for _, k := range []string{scratchcache.StateSealed, scratchcache.StateRunning, scratchcache.StateIdle, "total"} {
				fmt.Fprintf(cmd.OutOrStdout(), "%-8s %7d entries %10s\n", k, by[k].Entries, humanBytes(by[k].Bytes))
			}
			return nil
		},
	})

	var vopt scratchcache.VerifyOptions
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Re-hash every sealed entry; exit 1 if any is damaged",
		Long: `Re-hash the manifest and local files of every sealed entry. With --staged,
also download every output staged to the results store (--store; S3
credentials from PILOT_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)
and check its sha256. Exit 1 if any entry is damaged, unless --quarantine
moved them aside (their tasks are then recomputed).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := open()
			if err != nil {
				return err
			}
			problems, checked, err := c.Verify(cmd.Context(), vopt)
			if err != nil {
				return unavailable(err, "the scratch filesystem or the results store failed; retry later")
			}
			if asJSON {
				if err := printJSON(cmd.OutOrStdout(), map[string]any{"checked": checked, "problems": problems}); err != nil {
					return err
				}
			} else {
				for _, p := range problems {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", p.Digest, p.Error)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "verified %d sealed entries, %d damaged\n", checked, len(problems))
			}
			if len(problems) > 0 && !vopt.Quarantine {
				return withHint(fmt.Errorf("%d of %d sealed entries are damaged", len(problems), checked),
					"rerun with --quarantine to move them aside; their tasks are then recomputed")
			}
			return nil
		},
	}
	verify.Flags().BoolVar(&vopt.Quarantine, "quarantine", false, "move damaged entries to ROOT/quarantine so their tasks are recomputed")
	verify.Flags().BoolVar(&vopt.Staged, "staged", false, "also download and check every output staged to the results store")
	verify.Flags().StringVar(&storeURI, "store", "", "the results store: file:///DIR or s3://BUCKET/PREFIX (default file://ROOT/results)")
	cache.AddCommand(verify)

	var quota string
	var idleAge time.Duration
	gc := &cobra.Command{
		Use:   "gc --quota SIZE",
		Short: "Evict sealed entries, least recently used first, to fit a quota",
		Long: `Evict sealed entries, least recently used first, until the cache fits
--quota (bytes, or with a suffix K, M, G, T: powers of 1024). An entry that a
live attempt holds is never evicted. With --idle-age, unsealed entries that
no attempt has held for that long (given-up tasks) are removed too. Outputs
staged to the results store are not touched.`,
		Example: `  pilot cache gc --root $SCRATCH/pilot-cache --quota 500G --idle-age 168h`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := parseSize(quota)
			if err != nil {
				return usageErr("--quota %q: %v", quota, err)
			}
			c, err := open()
			if err != nil {
				return err
			}
			rep, err := c.GC(cmd.Context(), scratchcache.GCOptions{Quota: n, IdleAge: idleAge})
			if err != nil {
				return unavailable(err, "the scratch filesystem failed; rerun gc later, it resumes where it stopped")
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), rep)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "evicted %d entries: %s -> %s (quota %s)\n",
				len(rep.Evicted), humanBytes(rep.Before), humanBytes(rep.After), humanBytes(n))
			if rep.After > n {
				fmt.Fprintf(cmd.ErrOrStderr(), "pilot: still %s over the quota: the rest is held by running attempts or kept for retries (see 'pilot cache ls'; --idle-age removes given-up ones)\n",
					humanBytes(rep.After-n))
			}
			return nil
		},
	}
	gc.Flags().StringVar(&quota, "quota", "", "the most the cache may hold, e.g. 500G (required)")
	gc.Flags().DurationVar(&idleAge, "idle-age", 0, "also remove unsealed entries unheld for this long, e.g. 168h (default: keep them)")
	cache.AddCommand(gc)

	rootCmd.AddCommand(cache)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// parseSize reads bytes with an optional K, M, G or T suffix (powers of 1024).
func parseSize(s string) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("a size is required, e.g. 500G")
	}
	mult := int64(1)
	switch strings.ToUpper(s[len(s)-1:]) {
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	case "T":
		mult = 1 << 40
	}
	num := s
	if mult > 1 {
		num = s[:len(s)-1]
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("not a size: write bytes or a number with K, M, G or T")
	}
	return int64(n * float64(mult)), nil
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
