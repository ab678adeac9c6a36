import ArgumentParser
import FlowForgeShared

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks (build with -c release).", subcommands: [Cron.self, ThroughputBench.self, EnqueueLatencyBench.self, SchedulesBench.self, CascadeBench.self, IdleBench.self, APIBench.self, BackfillBench.self, LiveOutputBench.self, AlertsBench.self])

    struct Cron: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "ns per next() and µs per 100-run preview, over a mix of expressions and zones.")

        @Option(help: "next() calls per expression.") var iterations = 200_000

        func run() throws {
            benchBuildNote()
            for line in CronBenchmark.run(iterations: iterations) { print(line) }
        }
    }
}
