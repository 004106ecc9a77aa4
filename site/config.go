package site

// Config is one site's configuration. Field tags are the file format; do
// not rename them.
type Config struct {
	// Path is the file the config was loaded from (for error messages).
	Path string `toml:"-"`

	Name     string `toml:"name"`      // the site's name; also names its pilot jobs
	Scratch  string `toml:"scratch"`   // root of the per-task scratch cache
	StateDir string `toml:"state_dir"` // the campaign's members file and checkpoints (shared filesystem)
	Queue    string `toml:"queue"`     // upstream: a JSONL file path or an http(s) URL; optional
	Results  string `toml:"results"`   // results store for big outputs: a path, file:// or s3:// URI; optional
	// ModuleInit is a shell line that makes `module` available (for
	// example "source /etc/profile.d/lmod.sh"); empty means a login shell.
	ModuleInit string `toml:"module_init"`

	Slurm     Slurm               `toml:"slurm"`
	Cluster   Cluster             `toml:"cluster"`
	Resources Resources           `toml:"resources"`
	Functions map[string]Function `toml:"functions"`
}

// Slurm is how pilots are submitted at the site.
type Slurm struct {
	Partition string   `toml:"partition"`
	Account   string   `toml:"account"`
	QOS       string   `toml:"qos"`
	Nodes     int      `toml:"nodes"`    // nodes per pilot (default 1)
	Walltime  Duration `toml:"walltime"` // per pilot; required
	// Keep is how many pilots to keep alive while work remains (default 1).
	Keep int `toml:"keep"`
	// MaxQueued caps the pilots waiting in the queue at once (default Keep).
	MaxQueued int `toml:"max_queued"`
	// DrainMargin is how long before the walltime agents get SIGUSR1 and
	// drain (default 5m; Slurm may signal up to 30 s earlier still).
	DrainMargin Duration `toml:"drain_margin"`
	// Overlap is how long before a pilot's end its successor is queued; it
	// must exceed the site's usual queue wait (default a quarter of the
	// walltime).
	Overlap Duration `toml:"overlap"`
	// Script is the batch script (default scripts/sbatch/pilot.sh beside
	// the pilot binary's repository, found by pilot launch).
	Script string `toml:"script"`
	// ExtraArgs go to sbatch as they are (--constraint=..., --gpus=...).
	ExtraArgs []string `toml:"extra_args"`
}

// Cluster is how a pilot's agents find each other.
type Cluster struct {
	// BindInterface (e.g. "hsn0", "ib0") or BindAddr picks the address
	// gossip and Raft bind to; neither means the address of the hostname.
	BindInterface string `toml:"bind_interface"`
	BindAddr      string `toml:"bind_addr"`
	// Voters is how many agents hold Raft votes: 3 or 5 (default 3).
	Voters int `toml:"voters"`
}

// Resources override what agents detect on their node (0: detect).
type Resources struct {
	Cores int   `toml:"cores"`
	MemMB int64 `toml:"mem_mb"`
}

// Function is one entry of the functions table: how a task's "fn" runs here.
type Function struct {
	// Command is the argv template. {args} as a whole element is all of the
	// task's args; {1}..{N} is one of them; {id}, {fn}, {cores} and
	// {mem_mb} are the task's; {{ is a literal brace.
	Command []string `toml:"command"`
	// Env is set for the command (values are templates too); the task's own
	// env wins over it.
	Env map[string]string `toml:"env"`
	// Modules are loaded (module load ...) before the command runs.
	Modules []string `toml:"modules"`
}
