"""The one small library every command shares: exit codes and errors, output, AWS access, repo paths."""
