/// Placeholder until the IPVSSync module lands.
public enum IPVSSyncModule {}
