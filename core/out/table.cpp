// Streaming aligned table output.
#include "core/out/table.h"

#include <unistd.h>

#include <algorithm>
#include <exception>

namespace edge {

TableWriter::TableWriter(std::FILE* out, std::vector<Column> columns, size_t window)
    : out_(out), columns_(std::move(columns)), widths_(columns_.size(), 0), window_(window), tty_(isatty(fileno(out)) == 1),
      uncaught_(std::uncaught_exceptions()) {
  for (size_t i = 0; i < columns_.size(); ++i) widths_[i] = columns_[i].header.size();
}

TableWriter::~TableWriter() {
  if (std::uncaught_exceptions() > uncaught_) return;  // failed: no header over an empty table
  flush();
}

void TableWriter::row(const std::vector<std::string>& cells) {
  ++rows_;
  if (!sized_) {
    pending_.push_back(cells);
    if (pending_.size() >= window_) size_from_pending();
    return;
  }
  emit(cells);
  if (buf_.size() > (1 << 16)) write_out();
}

void TableWriter::size_from_pending() {
  sized_ = true;
  for (auto& r : pending_)
    for (size_t i = 0; i < r.size() && i < widths_.size(); ++i) widths_[i] = std::max(widths_[i], r[i].size());
  std::vector<std::string> header;
  for (auto& c : columns_) header.push_back(c.header);
  if (tty_) buf_ += "\033[1m";
  emit(header);
  if (tty_) {
    buf_.insert(buf_.size() - 1, "\033[0m");
  }
  for (auto& r : pending_) emit(r);
  pending_.clear();
  pending_.shrink_to_fit();
}

void TableWriter::emit(const std::vector<std::string>& cells) {
  // The last column is not padded: no trailing spaces in scripts' input.
  const size_t n = std::min(cells.size(), widths_.size());
  size_t last = n;
  while (last > 0 && cells[last - 1].empty() && columns_[last - 1].align == Align::left) --last;
  for (size_t i = 0; i < last; ++i) {
    const std::string& c = cells[i];
    const size_t pad = widths_[i] > c.size() ? widths_[i] - c.size() : 0;
    if (columns_[i].align == Align::right) buf_.append(pad, ' ');
    buf_ += c;
    if (i + 1 < last) {
      if (columns_[i].align == Align::left) buf_.append(pad, ' ');
      buf_ += "  ";
    }
  }
  buf_ += '\n';
}

void TableWriter::write_out() {
  if (!buf_.empty()) std::fwrite(buf_.data(), 1, buf_.size(), out_);
  buf_.clear();
}

void TableWriter::flush() {
  if (!sized_ && !pending_.empty()) size_from_pending();
  write_out();
  std::fflush(out_);
}

}  // namespace edge
