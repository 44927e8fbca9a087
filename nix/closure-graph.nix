# The closure of some store paths as a file: exportReferencesGraph's
# .attrs.json (structured attrs), which `strata plan` and `strata build`
# read directly.
#
#   nix-build nix/closure-graph.nix --arg paths '[ (import ./nix/tests {}).hello ]' -o graph.json
#   nix-build nix/closure-graph.nix --arg paths '[ (builtins.storePath /nix/store/...-hello) ]'
#
# The file holds {"exportReferencesGraph": {"graph": [ROOTS]},
# "graph": [{"path", "narHash", "narSize", "closureSize", "references"}...]}
# plus this derivation's other attributes (ignored by strata).
{
  # Derivations or store paths (with context) whose closure to export.
  paths,
  name ? "closure-graph.json",
  system ? builtins.currentSystem,
}:
derivation {
  inherit name system;
  __structuredAttrs = true;
  exportReferencesGraph.graph = paths;
  # bash for `source .attrs.sh`. The script ends with a builtin: Nix 2.8
  # sometimes kills a bash builder whose last command is an external
  # program ("failed due to signal 9").
  builder = "/bin/bash";
  args = [ "-c" "source .attrs.sh; /bin/cp .attrs.json \"\${outputs[out]}\"; exit 0" ];
}
