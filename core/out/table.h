// Aligned human tables that stream: the first rows (up to a window) size the columns, later
// rows reuse those widths, so a 200k-row listing prints in constant memory. Headers are bold
// only on a TTY; nothing else decorates the output.
#pragma once
#include <cstdio>
#include <string>
#include <vector>

namespace edge {

enum class Align { left, right };

struct Column {
  std::string header;
  Align align = Align::left;
};

class TableWriter {
 public:
  TableWriter(std::FILE* out, std::vector<Column> columns, size_t sizing_window = 128);
  ~TableWriter();  // flushes; when unwinding (the command failed), writes nothing more
  TableWriter(const TableWriter&) = delete;
  TableWriter& operator=(const TableWriter&) = delete;

  // cells.size() must equal the column count.
  void row(const std::vector<std::string>& cells);
  void flush();
  size_t rows() const { return rows_; }

 private:
  void size_from_pending();
  void emit(const std::vector<std::string>& cells);
  void write_out();

  std::FILE* out_;
  std::vector<Column> columns_;
  std::vector<size_t> widths_;
  std::vector<std::vector<std::string>> pending_;
  size_t window_;
  size_t rows_ = 0;
  bool sized_ = false;
  bool tty_;
  int uncaught_;
  std::string buf_;
};

}  // namespace edge
