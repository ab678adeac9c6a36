import ArgumentParser
import FlowForgeShared

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks (build with -c release).", subcommands: [Cron.self])

    struct Cron: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "ns per next() and µs per 100-run preview, over a mix of expressions and zones.")

        @Option(help: "next() calls per expression.") var iterations = 200_000

        func run() throws {
            #if DEBUG
            print("note: this is a debug build; run `swift run -c release flowforge bench cron` for real figures")
            #endif
            for line in CronBenchmark.run(iterations: iterations) { print(line) }
        }
    }
}
