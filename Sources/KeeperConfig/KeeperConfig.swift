/// Placeholder until the KeeperConfig module lands.
public enum KeeperConfigModule {}
