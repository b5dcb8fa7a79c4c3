// The one translation unit that compiles Boost.Asio and Boost.Beast (BOOST_ASIO_SEPARATE_COMPILATION
// and BOOST_BEAST_SEPARATE_COMPILATION are set for every user), so the other files only parse
// their declarations: a large saving on a 2-core build.
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
