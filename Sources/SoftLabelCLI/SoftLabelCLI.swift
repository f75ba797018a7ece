import Foundation
import SoftLabel

/// A subcommand: its interface and what it does. Commands print through `Console` and throw
/// `UsageError` / `DataError` (exit 2) or `RuntimeFailure` (exit 1).
protocol Command: SendableMetatype {
    static var spec: CommandSpec { get }
    static func run(_ args: ParsedArguments, _ console: Console) throws
}

public enum SoftLabelCLI {
    /// The release, printed by `--version`.
    public static let version = "0.3.0"

    static let commands: [Command.Type] = [TrainCommand.self, EvalCommand.self, PredictCommand.self, InspectCommand.self,
                                          AggregateCommand.self, CalibrateCommand.self, CompareCommand.self,
                                          GradcheckCommand.self, ExportCommand.self, ConvertCommand.self]

    static var help: String {
        let w = commands.map { $0.spec.name.count }.max()!
        return """
        softlabel: train softmax classifiers on soft labels (probabilities or annotator counts).

        Usage: softlabel <command> [options]

        Commands:
        \(commands.map { "  " + $0.spec.name.padding(toLength: w, withPad: " ", startingAt: 0) + "  " + $0.spec.summary }.joined(separator: "\n"))

        Run 'softlabel <command> --help' for a command's options.

        """
    }

    static var versionLine: String { "softlabel \(version) (model file format \(ModelFile.currentVersion))\n" }

    /// Runs the process: exits 0 on success, 1 on a runtime failure, 2 on a usage or input error.
    public static func main(_ arguments: [String]) -> Never {
        Signals.install()
        exit(run(Array(arguments.dropFirst()), console: .standard))
    }

    /// Runs one command line (without the program name) and returns its exit status.
    public static func run(_ args: [String], console: Console) -> Int32 {
        guard let name = args.first else {
            console.err(help)
            return 2
        }
        if name == "--help" || name == "-h" || name == "help" {
            console.out(help)
            return 0
        }
        if name == "--version" {
            console.out(versionLine)
            return 0
        }
        guard let command = commands.first(where: { $0.spec.name == name }) else {
            let names = commands.map { $0.spec.name }
            let hint = closest(to: name, among: names).map { "did you mean '\($0)'? " } ?? ""
            console.err("softlabel: unknown command '\(oneLine(name))' (\(hint)commands: \(names.joined(separator: ", ")))\n")
            return 2
        }
        do {
            let parsed = try command.spec.parse(Array(args.dropFirst()))
            if parsed.help {
                console.out(command.spec.help)
                return 0
            }
            if parsed.version {
                console.out(versionLine)
                return 0
            }
            try command.run(parsed, console)
            return 0
        } catch let e as UsageError {
            console.err("softlabel \(name): \(oneLine(e.message))\n")
            return 2
        } catch let e as DataError {
            console.err("softlabel \(name): \(e.description)\n")
            return 2
        } catch let e as ExitStatus {
            return e.code
        } catch let e as RuntimeFailure {
            console.err("softlabel \(name): \(oneLine(e.message))\n")
            return 1
        } catch {
            console.err("softlabel \(name): \(oneLine("\(error)"))\n")
            return 1
        }
    }
}

/// A message that quotes user text (a flag's value, a file or column name) as one line: control
/// characters escaped, as `DataError` does for input errors.
func oneLine(_ message: String) -> String { escapingControlCharacters(message) }
