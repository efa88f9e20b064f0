"""The platform commands: `flask webhook`, `flask telegram poll` and `flask send-sample`."""
