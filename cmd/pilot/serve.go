package main

import (
	"github.com/spf13/cobra"

	"github.com/pilot-hpc/pilot/upstream/server"
)

func init() {
	var cfg server.Config
	cmd := &cobra.Command{
		Use:   "serve --listen ADDR --data DIR --token-file FILE",
		Short: "Run the hosted queue server that submitters and pilots share",
		Long: `Run the hosted queue: an HTTP JSON API where people submit tasks and read
results, and pilots at any site lease windows of tasks and return results.
State is one bbolt file in --data, fsynced before every answer.

The token file (mode 0600) has one token per line: "ROLE TOKEN [NAME]",
ROLE one of submit (submit, read), pilot (lease, complete, read), admin
(everything, including flush). Clients send 'Authorization: Bearer TOKEN';
'pilot' commands read it from $PILOT_TOKEN. The API is in
upstream/server/API.md.`,
		Example: `  umask 077; echo "admin $(openssl rand -hex 32) me" > tokens
  pilot serve --listen 127.0.0.1:8470 --data ./queue --token-file tokens`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Listen == "" || cfg.DataDir == "" || cfg.TokenFile == "" {
				return usageErr("--listen, --data and --token-file are required")
			}
			if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
				return usageErr("--tls-cert and --tls-key go together: give both or neither")
			}
			if err := server.Run(cmd.Context(), cfg); err != nil {
				return withHint(err, "check the flags and the token file; 'pilot serve --help' shows its format")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", "", "address to listen on, host:port")
	f.StringVar(&cfg.DataDir, "data", "", "directory of the queue's bbolt file (created if missing)")
	f.StringVar(&cfg.TokenFile, "token-file", "", "file of \"ROLE TOKEN [NAME]\" lines, mode 0600")
	f.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate: serve https")
	f.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	f.Int64Var(&cfg.MaxBodyBytes, "max-body", server.DefaultMaxBodyBytes, "largest request body in bytes (413 beyond)")
	rootCmd.AddCommand(cmd)
}
