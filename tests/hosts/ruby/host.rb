# The extension in Ruby's sqlite3 gem. It runs README.md's Ruby snippet as it
# is, then the seed story, the change feed, the outbox and an error on the
# connection the snippet opened, and exits 1 on the first mismatch.
#
# Usage: ruby host.rb EXTENSION README_MD SEED_SCHEMA_SQL
#
# It works in a temporary directory where ./target/release/libsqlite_triggers.so
# is a link to EXTENSION, so that the snippet's relative path is the extension
# under test.
require "sqlite3"
require "tmpdir"
require "fileutils"

MINIMUM = "3.38.0"

def fail!(message)
  warn "FAIL: #{message}"
  exit 1
end

def expect_rows(db, sql, want)
  got = db.execute(sql)
  fail!("#{sql}\n  got  #{got.inspect}\n  want #{want.inspect}") unless got == want
  puts "ok: #{sql} -> #{got.inspect}"
end

def expect_prefix(db, sql, prefix)
  got = db.get_first_value(sql)
  fail!("#{sql}\n  got  #{got.inspect}\n  want it to start with #{prefix.inspect}") unless got.is_a?(String) && got.start_with?(prefix)
  puts "ok: #{sql} -> #{got}"
end

abort "usage: ruby host.rb EXTENSION README_MD SEED_SCHEMA_SQL" unless ARGV.size == 3
ext = File.expand_path(ARGV[0])
ext += ".so" unless ext.end_with?(".so")
readme = File.read(ARGV[1])
seed = File.read(ARGV[2])

snippet = readme[/^```ruby\n(.*?)^```$/m, 1] or fail!("no ```ruby block in README.md")

Dir.mktmpdir("sqlite-triggers-ruby-host-") do |dir|
  FileUtils.mkdir_p(File.join(dir, "target", "release"))
  File.symlink(ext, File.join(dir, "target", "release", "libsqlite_triggers.so"))
  Dir.chdir(dir)

  version = SQLite3::Database.new(":memory:").get_first_value("SELECT sqlite_version()")
  puts "sqlite3 gem #{SQLite3::VERSION} runs SQLite #{version} (built with #{SQLite3::SQLITE_VERSION}'s header)"
  old = Gem::Version.new(version) < Gem::Version.new(MINIMUM)

  # README.md's snippet, as it is.
  scope = binding
  begin
    scope.eval(snippet, "README.md's ruby block")
  rescue StandardError => e  # load_extension raises RuntimeError in gem 1.4
    fail!("README.md's Ruby snippet did not load the extension: #{e.message}") unless old
    want = "needs SQLite #{MINIMUM} or newer, but this host runs SQLite #{version}"
    fail!("SQLite #{version}: wanted the load refused with #{want.inspect}, got #{e.message.inspect}") unless e.message.include?(want)
    puts "ok: SQLite #{version} refuses the load: #{e.message}"
    exit 0
  end
  fail!("SQLite #{version} is older than #{MINIMUM}, yet the extension loaded") if old
  db = scope.local_variable_get(:db)
  puts "ok: README.md's Ruby snippet loads the extension"

  sqlite_version = db.get_first_value("SELECT sqlite_version()")
  fail!("sqlite_version() is #{sqlite_version}, not #{version}") unless sqlite_version == version
  debug = db.get_first_value("SELECT trigger_debug()")
  fail!("trigger_debug() does not say it runs SQLite #{version}:\n#{debug}") unless debug.include?("running SQLite #{version}")
  puts "ok: sqlite_version() = #{version}, trigger_version() = #{db.get_first_value("SELECT trigger_version()")}"

  # The seed story.
  db.execute_batch(seed)
  expect_prefix(db, "SELECT trigger_install('task_state')", "installed task_state 1.0.0")
  expect_prefix(db, "SELECT trigger_install('default_album')", "installed default_album 1.1.0")
  db.execute("INSERT INTO user (id, name) VALUES (1, 'alice'), (2, 'bob')")
  expect_rows(db, "SELECT user_id, album_name FROM album ORDER BY 1", [[1, "default album"], [2, "default album"]])
  db.execute("INSERT INTO obs (id, name) VALUES (1, 'comet'), (2, 'nebula')")
  db.execute("INSERT INTO task (obs_id, name) VALUES (1, 'a'), (1, 'b'), (2, 'c')")
  db.execute("UPDATE obs SET state = 2 WHERE id = 1")
  expect_rows(db, "SELECT id, state FROM task ORDER BY id", [[1, 2], [2, 2], [3, 0]])
  expect_prefix(db, "SELECT trigger_uninstall('task_state')", "uninstalled task_state")
  expect_rows(db, "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'obs'", [])

  # An error carries its message.
  begin
    answer = db.get_first_value("SELECT trigger_install('nope')")
    fail!("trigger_install('nope') answered #{answer.inspect} instead of failing")
  rescue SQLite3::SQLException => e
    fail!("trigger_install('nope'): #{e.message.inspect} lacks unknown pack \"nope\"") unless e.message.include?('unknown pack "nope"')
    puts "ok: SELECT trigger_install('nope') -> #{e.class}: #{e.message}"
  end

  # The change feed: committed changes only.
  db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT)")
  expect_rows(db, "SELECT trigger_watch('*')", [[0]])
  db.transaction { db.execute("INSERT INTO t (id, a) VALUES (1, 'kept')") }
  db.transaction
  db.execute("INSERT INTO t (id, a) VALUES (2, 'rolled back')")
  db.rollback
  expect_rows(db, "SELECT op, table_name, rowid FROM trigger_changes ORDER BY seq", [["insert", "t", 1]])
  expect_rows(db, "SELECT trigger_unwatch('*') IS NOT NULL", [[1]])

  # The outbox: capture triggers and trigger_emit.
  expect_prefix(db, "SELECT trigger_capture('t')", "captured t into channel t")
  db.execute("INSERT INTO t (id, a) VALUES (3, 'captured')")
  db.transaction { db.execute("SELECT trigger_emit('c', 'x')") }
  db.transaction
  db.execute("SELECT trigger_emit('c', 'rolled back')")
  db.rollback
  expect_rows(db, "SELECT seq, channel, json_extract(payload, '$.op'), json_extract(payload, '$.new.a') " \
                  "FROM trigger_outbox WHERE channel = 't' ORDER BY seq", [[1, "t", "insert", "captured"]])
  expect_rows(db, "SELECT seq, channel, payload FROM trigger_outbox WHERE channel = 'c' ORDER BY seq", [[2, "c", "x"]])

  db.close
  puts "Ruby host (sqlite3 gem #{SQLite3::VERSION}, SQLite #{version}): all checks passed"
end
