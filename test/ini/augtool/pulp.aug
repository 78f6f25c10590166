(* Pulp 2's server.conf as the original image's augtool calls read it: IniFile
   primitives put together like the MySQL lens, sections labelled "target", "#" and ";"
   comments, ":" and "=" separators, "=" for keys Augeas adds. Only the tests use it, to
   compare our edits with augtool's. *)
module Pulp =
  autoload xfm

let comment = IniFile.comment IniFile.comment_re "#"

let sep = IniFile.sep IniFile.sep_re IniFile.sep_default

(* Unlike MySQL's entry, a value may be missing after the separator ("oauth_key:"). *)
let entry = IniFile.indented_entry IniFile.entry_re sep comment

let title = IniFile.indented_title_label "target" IniFile.record_label_re
let record = IniFile.record title entry

let lns = IniFile.lns record comment

let filter = incl "/etc/pulp/server.conf"

let xfm = transform lns filter
