import SoftLabelCLI

SoftLabelCLI.main(CommandLine.arguments)
