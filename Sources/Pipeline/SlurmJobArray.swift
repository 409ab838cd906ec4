import Foundation

/// A sweep as Slurm batch scripts: a job array whose task N trains member N, and an evaluation
/// job to run after every task succeeded (`sbatch --dependency=afterok:<array>`).
///
/// The scripts are plain bash with `#SBATCH` lines, commented so that a user can edit them
/// (another partition, a module load). A task that Slurm stops early (`--signal=B:TERM@120`
/// before its time limit, or a pre-emption) passes SIGTERM on to `l2l-train`, which finishes
/// its unroll, writes the checkpoint and exits 143; the task then asks Slurm to requeue it and
/// ends with status 0, so that the evaluation still waits for it instead of being cancelled. The
/// requeued task resumes the member bit for bit.
public struct SlurmJobArray: Sendable {
    /// What `l2l-sweep --slurm` takes from its options; nil leaves the cluster's default.
    public struct Resources: Sendable {
        public var partition: String?
        /// A Slurm time limit per task (`--time`, e.g. `4:00:00`).
        public var time: String?
        /// CPUs per task, and the threads each `l2l-train` uses.
        public var cpusPerTask: Int
        /// At most this many tasks at once (`--array=0-(M−1)%K`).
        public var throttle: Int?

        public init(partition: String? = nil, time: String? = nil, cpusPerTask: Int = 1, throttle: Int? = nil) {
            self.partition = partition
            self.time = time
            self.cpusPerTask = cpusPerTask
            self.throttle = throttle
        }
    }

    /// The exit status of `l2l-train` stopped by SIGTERM after writing its checkpoint.
    public static let checkpointedAfterSIGTERM: Int32 = 128 + SIGTERM

    public let name: String
    public let memberCount: Int
    public let resources: Resources
    /// Absolute paths: the project folder (the jobs' working directory), the folder holding
    /// `l2l-train` and `l2l-eval`, and the folder of the run folders.
    public let projectFolder: String
    public let binaries: String
    public let runs: String
    /// As given on the command line (relative to `projectFolder`, or absolute): the run files
    /// record them, as they record make's.
    public let pipeline: String
    public let data: String

    public init(name: String, memberCount: Int, resources: Resources, projectFolder: String, binaries: String,
                runs: String, pipeline: String, data: String) {
        self.name = name
        self.memberCount = memberCount
        self.resources = resources
        self.projectFolder = projectFolder
        self.binaries = binaries
        self.runs = runs
        self.pipeline = pipeline
        self.data = data
    }

    /// `<runs>/<name>`: the sweep's folder, which `l2l-train --out` and `l2l-eval --out` take.
    public var sweepFolder: String { "\(runs)/\(name)" }
    /// `<runs>/<name>/slurm`: the scripts and the tasks' logs.
    public var folder: String { "\(sweepFolder)/slurm" }
    public var trainScript: String { "\(folder)/train.sbatch" }
    public var evalScript: String { "\(folder)/eval.sbatch" }

    /// The two commands that submit the sweep, the second waiting for every task of the first.
    public var submitCommands: [String] {
        ["array=$(sbatch --parsable \(quoted(trainScript)))",
         "sbatch --dependency=afterok:${array%%;*} \(quoted(evalScript))"]
    }

    /// The batch script of the job array.
    public var trainText: String {
        let throttle = resources.throttle.map { "%\($0)" } ?? ""
        return """
            #!/bin/bash
            # Meta-trains the members of the sweep \(pipeline) as a Slurm job array: task N trains
            # member N (l2l-sweep \(pipeline) lists them). Written by l2l-sweep --slurm; edit freely.
            #
            # --requeue and --signal: 120 s before the time limit (and on a pre-emption) Slurm sends
            # SIGTERM; l2l-train finishes its unroll, writes its checkpoint and exits \(Self.checkpointedAfterSIGTERM), and the task
            # is requeued, to resume the member where it stopped. A failed task (any other status)
            # keeps the evaluation job from running.
            #SBATCH --job-name=l2l-train-\(name)
            #SBATCH --array=0-\(memberCount - 1)\(throttle)
            #SBATCH --cpus-per-task=\(resources.cpusPerTask)
            \(optionalLines)#SBATCH --requeue
            #SBATCH --signal=B:TERM@120
            #SBATCH --open-mode=append
            #SBATCH --chdir=\(projectFolder)
            #SBATCH --output=\(folder)/train-%A_%a.out

            # One writer per file: each task holds its member's run folder (its .lock) for the whole
            # training. On NFS, HDF5's own file locks may fail: export HDF5_USE_FILE_LOCKING=FALSE
            # (l2l writes its files whole and does not rely on them).
            set -u
            L2L_BIN=\(quoted(binaries))

            echo "task ${SLURM_ARRAY_TASK_ID} (job ${SLURM_JOB_ID}, restart ${SLURM_RESTART_COUNT:-0}) on $(hostname -s) at $(date -u +%FT%TZ)"
            "$L2L_BIN/l2l-train" \(quoted(pipeline)) --out \(quoted(sweepFolder)) --data \(quoted(data)) \\
                --member "$SLURM_ARRAY_TASK_ID" --resume --threads \(resources.cpusPerTask) &
            pid=$!
            # --signal=B: signals this shell only; pass SIGTERM on to l2l-train, then wait for it to
            # finish its checkpoint (a trapped signal interrupts `wait`).
            trap 'kill -TERM "$pid" 2>/dev/null' TERM
            wait "$pid"
            while kill -0 "$pid" 2>/dev/null; do wait "$pid"; done
            wait "$pid"; status=$?

            if [ "$status" -eq \(Self.checkpointedAfterSIGTERM) ]; then
                echo "task ${SLURM_ARRAY_TASK_ID}: checkpointed after SIGTERM; requeueing it to resume"
                scontrol requeue "$SLURM_JOB_ID" && exit 0
                echo "task ${SLURM_ARRAY_TASK_ID}: scontrol requeue failed; resubmit this task to resume it" >&2
            fi
            exit "$status"

            """
    }

    /// The batch script of the evaluation, submitted with `--dependency=afterok:<array>`.
    public var evalText: String {
        """
        #!/bin/bash
        # Evaluates every member of the sweep \(pipeline) (their /phi/best), the tuned baselines once,
        # and the across-seed aggregate, into \(sweepFolder)/eval.h5. Submit it with
        # --dependency=afterok:<the job array's id>, so that it runs once every member trained.
        # Written by l2l-sweep --slurm; edit freely.
        #SBATCH --job-name=l2l-eval-\(name)
        #SBATCH --cpus-per-task=\(resources.cpusPerTask)
        \(optionalLines)#SBATCH --chdir=\(projectFolder)
        #SBATCH --output=\(folder)/eval-%j.out

        set -u
        L2L_BIN=\(quoted(binaries))
        exec "$L2L_BIN/l2l-eval" \(quoted(pipeline)) --out \(quoted(sweepFolder)) --data \(quoted(data)) --threads \(resources.cpusPerTask)

        """
    }

    private var optionalLines: String {
        [resources.partition.map { "#SBATCH --partition=\($0)" }, resources.time.map { "#SBATCH --time=\($0)" }]
            .compactMap { $0.map { $0 + "\n" } }.joined()
    }

    /// Writes both scripts into `folder` (created), each whole (temporary file, then rename).
    public func write() throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for (path, text) in [(trainScript, trainText), (evalScript, evalText)] {
            let url = URL(fileURLWithPath: path)
            try Data(text.utf8).write(to: url, options: .atomic)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        }
    }
}

/// `text` as one word of a POSIX shell command: bare when it is made of safe characters only.
func quoted(_ text: String) -> String {
    let safe = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-=,+:@%")
    if !text.isEmpty, text.unicodeScalars.allSatisfy(safe.contains) { return text }
    return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
