"""Trading terms in English and Indonesian, looked up by either language (or a common alias).

The Indonesian wording follows what IDX traders write (bandar, ARA/ARB, cut loss, asing), not a
literal translation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Term:
    en: str
    id: str
    en_text: str
    id_text: str
    aliases: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(normalise(k) for k in (self.en, self.id, *self.aliases))


def normalise(word: str) -> str:
    """Lower case, hyphens, underscores and slashes as spaces, spaces collapsed: "Stop-Loss" is "stop loss"."""
    return " ".join(re.sub(r"[-_/]", " ", word.lower()).split())


TERMS: tuple[Term, ...] = (
    Term("support", "support", "A price level where buyers have repeatedly stopped a fall.",
         "Level harga tempat pembeli berulang kali menahan penurunan.", ("level support", "area support")),
    Term("resistance", "resisten", "A price level where sellers have repeatedly stopped a rise.",
         "Level harga tempat penjual berulang kali menahan kenaikan.", ("resist", "level resisten")),
    Term("candlestick", "lilin", "One bar of a chart: open, high, low and close of a period; its body is "
         "green (up) or red (down).", "Satu batang grafik: harga pembukaan, tertinggi, terendah dan penutupan "
         "suatu periode; badannya hijau (naik) atau merah (turun).", ("candle", "kandel")),
    Term("stop loss", "batas rugi", "An exit that closes a position once the price moves against you by a set "
         "amount, capping the loss.", "Batas keluar yang menutup posisi ketika harga bergerak melawan Anda "
         "sejauh tertentu, sehingga rugi terbatas.", ("sl", "cut loss", "cutloss")),
    Term("take profit", "ambil untung", "An exit that closes a position once a target gain is reached.",
         "Batas keluar yang menutup posisi ketika target keuntungan tercapai.", ("tp", "profit taking")),
    Term("drawdown", "penurunan modal", "The fall from a peak of an account's value to a later low, in percent.",
         "Penurunan nilai akun dari puncak ke titik terendah berikutnya, dalam persen.", ("dd", "max drawdown")),
    Term("lot", "lot", "The trading unit: on IDX one lot is 100 shares.",
         "Satuan transaksi: di BEI satu lot adalah 100 lembar saham.", ("lots",)),
    Term("bandarmology", "bandarmologi", "Reading what the big players (bandar) do from broker summaries and "
         "order flow, to follow accumulation or avoid distribution.", "Membaca gerak pemain besar (bandar) dari "
         "ringkasan broker dan aliran order, untuk mengikuti akumulasi atau menghindari distribusi.",
         ("bandar", "bandarmologi saham")),
    Term("broker summary", "ringkasan broker", "Per broker, how many lots each bought and sold of a stock in a "
         "period, with value and average price.", "Per broker, jumlah lot yang dibeli dan dijual pada suatu "
         "saham dalam periode tertentu, beserta nilai dan harga rata-ratanya.", ("brosum", "broksum")),
    Term("accumulation", "akumulasi", "Big buyers collecting shares over time, usually quietly and before a rise.",
         "Pemain besar mengumpulkan saham secara bertahap, biasanya diam-diam sebelum harga naik.", ("acc",)),
    Term("distribution", "distribusi", "Big holders selling their shares over time, usually into strength.",
         "Pemegang besar menjual sahamnya secara bertahap, biasanya saat harga sedang kuat.", ("dist",)),
    Term("foreign flow", "aliran dana asing", "Net buying or selling by foreign investors; a foreign net buy "
         "often supports IDX blue chips.", "Selisih beli dan jual investor asing; net buy asing sering "
         "menopang saham unggulan di BEI.", ("foreign net buy", "net buy asing", "asing")),
    Term("auto rejection upper", "auto reject atas", "ARA: the day's upper price limit on IDX; orders above it "
         "are rejected.", "ARA: batas atas harga harian di BEI; order di atasnya ditolak.", ("ara",)),
    Term("auto rejection lower", "auto reject bawah", "ARB: the day's lower price limit on IDX; orders below it "
         "are rejected.", "ARB: batas bawah harga harian di BEI; order di bawahnya ditolak.", ("arb",)),
    Term("bid", "bid", "The highest price a buyer currently offers.",
         "Harga tertinggi yang saat ini diajukan pembeli.", ("harga beli",)),
    Term("offer", "offer", "The lowest price a seller currently asks.",
         "Harga terendah yang saat ini diminta penjual.", ("ask", "harga jual")),
    Term("spread", "selisih harga", "The gap between the best bid and the best offer.",
         "Jarak antara bid terbaik dan offer terbaik.", ("bid ask spread",)),
    Term("volume", "volume", "How much was traded in a period (shares, lots or coins).",
         "Jumlah yang diperdagangkan dalam suatu periode (lembar, lot atau koin).", ("vol",)),
    Term("liquidity", "likuiditas", "How easily something trades without moving its price.",
         "Seberapa mudah suatu aset diperdagangkan tanpa menggerakkan harganya.", ("likuid", "liquid")),
    Term("volatility", "volatilitas", "How widely and quickly the price swings.",
         "Seberapa lebar dan cepat harga bergerak naik turun.", ("volatile",)),
    Term("uptrend", "tren naik", "Higher highs and higher lows over time.",
         "Puncak dan lembah yang makin tinggi dari waktu ke waktu.", ("bullish",)),
    Term("downtrend", "tren turun", "Lower highs and lower lows over time.",
         "Puncak dan lembah yang makin rendah dari waktu ke waktu.", ("bearish",)),
    Term("sideways", "konsolidasi", "Price moving in a range without a clear trend.",
         "Harga bergerak dalam rentang tanpa tren yang jelas.", ("ranging", "range bound")),
    Term("breakout", "tembus", "Price closing beyond a support or resistance, often with rising volume.",
         "Harga ditutup menembus support atau resisten, sering disertai volume yang naik.", ("breakdown",)),
    Term("pullback", "koreksi", "A short move against the trend before it resumes.",
         "Gerakan singkat berlawanan arah tren sebelum tren berlanjut.", ("retracement", "correction")),
    Term("moving average", "rata-rata bergerak", "The average close over the last N bars, redrawn every bar.",
         "Rata-rata harga penutupan N batang terakhir, dihitung ulang setiap batang.", ("ma", "sma", "ema")),
    Term("overbought", "jenuh beli", "Risen so far so fast that a pause or drop is likely (RSI above 70).",
         "Naik terlalu jauh dan cepat sehingga jeda atau turun mungkin terjadi (RSI di atas 70).", ()),
    Term("oversold", "jenuh jual", "Fallen so far so fast that a pause or bounce is likely (RSI below 30).",
         "Turun terlalu jauh dan cepat sehingga jeda atau pantulan mungkin terjadi (RSI di bawah 30).", ()),
    Term("dividend", "dividen", "Part of a company's profit paid to its shareholders.",
         "Bagian laba perusahaan yang dibagikan kepada pemegang saham.", ("cum date", "ex date")),
    Term("market order", "order pasar", "Buy or sell at once at the best price available.",
         "Beli atau jual seketika pada harga terbaik yang tersedia.", ("market",)),
    Term("limit order", "order limit", "Buy or sell only at a set price or better.",
         "Beli atau jual hanya pada harga tertentu atau lebih baik.", ("limit",)),
    Term("position", "posisi", "What you hold (long) or owe (short) in one instrument.",
         "Apa yang Anda pegang (long) atau pinjam-jual (short) pada satu instrumen.", ("open position",)),
    Term("short selling", "jual kosong", "Selling what you borrowed, hoping to buy it back cheaper.",
         "Menjual aset pinjaman dengan harapan membelinya kembali lebih murah.", ("short",)),
    Term("backtest", "uji historis", "Running a strategy on past prices to see how it would have done.",
         "Menjalankan strategi pada harga masa lalu untuk melihat hasilnya.", ("back test",)),
    Term("leverage", "daya ungkit", "Trading with borrowed money: gains and losses grow by the same factor.",
         "Bertransaksi dengan dana pinjaman: untung dan rugi membesar dengan faktor yang sama.", ("margin",)),
    Term("fee", "biaya transaksi", "What the broker or exchange charges per trade.",
         "Biaya yang dikenakan broker atau bursa untuk setiap transaksi.", ("commission", "komisi")),
    Term("market capitalisation", "kapitalisasi pasar", "Share price times shares outstanding.",
         "Harga saham dikali jumlah saham beredar.", ("market cap", "market capitalization", "kapitalisasi")),
    Term("initial public offering", "penawaran umum perdana", "A company's first sale of shares to the public.",
         "Penjualan saham pertama sebuah perusahaan kepada publik.", ("ipo",)),
    Term("rights issue", "hak memesan efek terlebih dahulu", "New shares offered first to existing "
         "shareholders, usually at a discount.", "Saham baru yang ditawarkan lebih dulu kepada pemegang saham "
         "lama, biasanya dengan harga diskon.", ("right issue", "hmetd")),
    Term("stock split", "pemecahan saham", "Splitting each share into several cheaper ones; value is unchanged.",
         "Memecah setiap saham menjadi beberapa saham yang lebih murah; nilainya tetap.", ("split",)),
    Term("blue chip", "saham unggulan", "A large, established, liquid company's stock (BBCA, BBRI, TLKM).",
         "Saham perusahaan besar, mapan dan likuid (BBCA, BBRI, TLKM).", ("bluechip", "big caps")),
    Term("gap", "celah harga", "A jump between one bar's close and the next bar's open with no trades between.",
         "Lompatan antara penutupan satu batang dan pembukaan batang berikutnya tanpa transaksi di antaranya.",
         ("gap up", "gap down")),
    Term("averaging down", "average down", "Buying more as the price falls to lower the average cost.",
         "Membeli lagi saat harga turun untuk menurunkan harga rata-rata.", ("avg down",)),
    Term("risk reward ratio", "rasio risiko imbal hasil", "The possible loss (to the stop) against the "
         "possible gain (to the target).", "Potensi rugi (sampai stop) dibanding potensi untung (sampai target).",
         ("rr", "risk reward")),
    Term("win rate", "tingkat kemenangan", "The share of closed trades that made money.",
         "Persentase transaksi tertutup yang menghasilkan untung.", ("winrate",)),
    Term("profit and loss", "laba rugi", "What trades gained or lost, realised (closed) or unrealised (open).",
         "Untung atau rugi transaksi, terealisasi (tertutup) maupun belum (terbuka).", ("p&l", "pnl", "cuan")),
)  # fmt: skip

_INDEX: dict[str, Term] = {}
for _term in TERMS:
    for _key in _term.keys:
        _INDEX.setdefault(_key, _term)


def lookup(word: str) -> Term | None:
    """The term whose English or Indonesian name (or alias) is ``word``."""
    return _INDEX.get(normalise(word))


def known_words() -> list[str]:
    return list(_INDEX)
