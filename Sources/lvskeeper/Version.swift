/// lvskeeper's upstream version, printed by `lvskeeper --version` (and keepalived's `-v`).
///
/// Invariant: equal to the first line of the repository's `VERSION` file, which `scripts/package`
/// turns into the Debian version (CommandLineTests.testVersionMatchesVersionFile checks both).
enum LVSKeeperVersion {
  static let string = "0.1.0"
}
