"""Generate realistic Japanese business-card rows (Sansan CSV style) with ground-truth persons."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from faker import Faker

from pipeline.headers import SANSAN_HEADERS
from pipeline.normalize import KANJI_VARIANTS

__all__ = [
    "BAD_ROW_KINDS",
    "DEFAULT_OWNERS",
    "REJECT_LABEL",
    "SANSAN_HEADERS",
    "SyntheticOwner",
    "generate_cards",
    "generate_labeled_cards",
    "write_csv",
]

REJECT_LABEL = "reject"
BAD_ROW_KINDS: tuple[str, ...] = (
    "malformed_email",
    "bad_date",
    "over_long",
    "control_char",
    "no_name_no_company",
)
ENCODINGS = ("cp932", "utf-8-sig", "utf-8")


@dataclass(frozen=True, slots=True)
class SyntheticOwner:
    """A Sansan user who owns cards; `note` says how the emulator's Salesforce user differs."""

    user_id: str
    name: str
    email: str
    note: str = ""
    weight: float = field(default=1.0, compare=False)


# The Sansan users matching the Salesforce emulator's default users, with their quirks.
DEFAULT_OWNERS: tuple[SyntheticOwner, ...] = (
    SyntheticOwner("U0001", "田中 一郎", "tanaka@example.co.jp", "active Salesforce user", 30),
    SyntheticOwner("U0002", "佐藤 花子", "sato@example.co.jp", "active Salesforce user", 25),
    SyntheticOwner("U0003", "鈴木 次郎", "suzuki@example.co.jp", "active Salesforce user", 20),
    SyntheticOwner("U0004", "高橋 美咲", "takahashi@example.co.jp", "inactive in Salesforce", 5),
    SyntheticOwner("U0005", "伊藤 健", "ito@example.co.jp", "Chatter Free user", 5),
    SyntheticOwner("U0006", "渡辺 由美", "watanabe@example.co.jp", "Chatter External user", 5),
    SyntheticOwner(
        "U0007", "山本 大輔", "yamamoto@example.co.jp", "username differs only in case", 5
    ),
    SyntheticOwner("U0008", "中村 翔", "nomatch@example.co.jp", "no Salesforce user", 5),
)

# ---------------------------------------------------------------------------------------------
# Static pools: Faker ja_JP has few names and no romanized company words, so these add to it.

_EXTRA_LAST_NAMES: tuple[tuple[str, str, str], ...] = (
    ("高田", "タカダ", "Takada"),
    ("高木", "タカギ", "Takagi"),
    ("高野", "タカノ", "Takano"),
    ("高山", "タカヤマ", "Takayama"),
    ("沢田", "サワダ", "Sawada"),
    ("藤沢", "フジサワ", "Fujisawa"),
    ("宮沢", "ミヤザワ", "Miyazawa"),
    ("浜田", "ハマダ", "Hamada"),
    ("浜口", "ハマグチ", "Hamaguchi"),
    ("島田", "シマダ", "Shimada"),
    ("小島", "コジマ", "Kojima"),
    ("川島", "カワシマ", "Kawashima"),
    ("長島", "ナガシマ", "Nagashima"),
    ("広瀬", "ヒロセ", "Hirose"),
    ("広田", "ヒロタ", "Hirota"),
    ("桜井", "サクライ", "Sakurai"),
    ("富田", "トミタ", "Tomita"),
    ("宮崎", "ミヤザキ", "Miyazaki"),
    ("岡崎", "オカザキ", "Okazaki"),
    ("柴崎", "シバサキ", "Shibasaki"),
    ("国分", "コクブ", "Kokubu"),
    ("徳永", "トクナガ", "Tokunaga"),
    ("瀬川", "セガワ", "Segawa"),
    ("北条", "ホウジョウ", "Hojo"),
    ("石田", "イシダ", "Ishida"),
    ("上田", "ウエダ", "Ueda"),
    ("森田", "モリタ", "Morita"),
    ("原田", "ハラダ", "Harada"),
    ("中野", "ナカノ", "Nakano"),
    ("中山", "ナカヤマ", "Nakayama"),
    ("和田", "ワダ", "Wada"),
    ("竹内", "タケウチ", "Takeuchi"),
    ("金子", "カネコ", "Kaneko"),
    ("武田", "タケダ", "Takeda"),
    ("上野", "ウエノ", "Ueno"),
    ("野口", "ノグチ", "Noguchi"),
    ("松井", "マツイ", "Matsui"),
    ("千葉", "チバ", "Chiba"),
    ("菅原", "スガワラ", "Sugawara"),
    ("久保", "クボ", "Kubo"),
    ("木下", "キノシタ", "Kinoshita"),
    ("野村", "ノムラ", "Nomura"),
    ("新井", "アライ", "Arai"),
    ("渡部", "ワタナベ", "Watanabe"),
    ("大野", "オオノ", "Ono"),
    ("杉山", "スギヤマ", "Sugiyama"),
    ("今井", "イマイ", "Imai"),
    ("丸山", "マルヤマ", "Maruyama"),
    ("増田", "マスダ", "Masuda"),
    ("大塚", "オオツカ", "Otsuka"),
)

_EXTRA_FIRST_NAMES: tuple[tuple[str, str, str], ...] = (
    ("翔太", "ショウタ", "Shota"),
    ("大輔", "ダイスケ", "Daisuke"),
    ("健太", "ケンタ", "Kenta"),
    ("拓也", "タクヤ", "Takuya"),
    ("直樹", "ナオキ", "Naoki"),
    ("和也", "カズヤ", "Kazuya"),
    ("達也", "タツヤ", "Tatsuya"),
    ("誠", "マコト", "Makoto"),
    ("浩", "ヒロシ", "Hiroshi"),
    ("隆", "タカシ", "Takashi"),
    ("剛", "ツヨシ", "Tsuyoshi"),
    ("修", "オサム", "Osamu"),
    ("亮", "リョウ", "Ryo"),
    ("陽介", "ヨウスケ", "Yosuke"),
    ("雄一", "ユウイチ", "Yuichi"),
    ("智也", "トモヤ", "Tomoya"),
    ("健一", "ケンイチ", "Kenichi"),
    ("信也", "シンヤ", "Shinya"),
    ("恵", "メグミ", "Megumi"),
    ("美穂", "ミホ", "Miho"),
    ("愛", "アイ", "Ai"),
    ("彩", "アヤ", "Aya"),
    ("真由美", "マユミ", "Mayumi"),
    ("恵子", "ケイコ", "Keiko"),
    ("由美", "ユミ", "Yumi"),
    ("明美", "アケミ", "Akemi"),
    ("久美子", "クミコ", "Kumiko"),
    ("直美", "ナオミ", "Naomi"),
    ("智子", "トモコ", "Tomoko"),
    ("洋子", "ヨウコ", "Yoko"),
    ("裕子", "ユウコ", "Yuko"),
    ("麻衣", "マイ", "Mai"),
    ("沙織", "サオリ", "Saori"),
    ("優子", "ユウコ", "Yuko"),
    ("千尋", "チヒロ", "Chihiro"),
    ("綾香", "アヤカ", "Ayaka"),
)

_BRANDS: tuple[tuple[str, str], ...] = (
    ("サクラ", "sakura"),
    ("ミライ", "mirai"),
    ("アオバ", "aoba"),
    ("ヒカリ", "hikari"),
    ("アサヒ", "asahi"),
    ("ツバサ", "tsubasa"),
    ("ソラ", "sora"),
    ("ミドリ", "midori"),
    ("コスモ", "cosmo"),
    ("ネクスト", "next"),
    ("グローバル", "global"),
    ("フロンティア", "frontier"),
    ("ユニオン", "union"),
    ("スター", "star"),
    ("アーク", "arc"),
    ("ブライト", "bright"),
    ("エース", "ace"),
    ("ライズ", "rise"),
    ("ビジョン", "vision"),
    ("クリエイト", "create"),
    ("シナジー", "synergy"),
    ("プライム", "prime"),
    ("ゼニス", "zenith"),
    ("ノヴァ", "nova"),
    ("ルミナ", "lumina"),
    ("オメガ", "omega"),
    ("アルファ", "alpha"),
    ("デルタ", "delta"),
    ("リンク", "link"),
    ("フォース", "force"),
)

_PLACES: tuple[tuple[str, str], ...] = (
    ("東京", "tokyo"),
    ("大阪", "osaka"),
    ("日本", "nihon"),
    ("関東", "kanto"),
    ("関西", "kansai"),
    ("中部", "chubu"),
    ("東洋", "toyo"),
    ("大和", "yamato"),
    ("北海道", "hokkaido"),
    ("九州", "kyushu"),
    ("東北", "tohoku"),
    ("中央", "chuo"),
    ("新日本", "shinnihon"),
    ("横浜", "yokohama"),
    ("名古屋", "nagoya"),
    ("京都", "kyoto"),
    ("神戸", "kobe"),
    ("札幌", "sapporo"),
    ("福岡", "fukuoka"),
    ("広島", "hiroshima"),
    ("湘南", "shonan"),
    ("三和", "sanwa"),
    ("太平洋", "taiheiyo"),
)

_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("商事", "shoji"),
    ("工業", "kogyo"),
    ("産業", "sangyo"),
    ("物産", "bussan"),
    ("製作所", "seisakusho"),
    ("電機", "denki"),
    ("建設", "kensetsu"),
    ("工務店", "komuten"),
    ("不動産", "fudosan"),
    ("印刷", "insatsu"),
    ("食品", "foods"),
    ("運輸", "unyu"),
    ("物流", "logistics"),
    ("通信", "tsushin"),
    ("情報システム", "infosys"),
    ("システムズ", "systems"),
    ("ソリューションズ", "solutions"),
    ("テクノロジー", "technology"),
    ("テック", "tech"),
    ("ソフト", "soft"),
    ("ネットワークス", "networks"),
    ("コンサルティング", "consulting"),
    ("デザイン", "design"),
    ("精機", "seiki"),
    ("化学", "kagaku"),
    ("製薬", "seiyaku"),
    ("繊維", "seni"),
    ("鉄工", "tekko"),
    ("興業", "kogyo"),
    ("開発", "kaihatsu"),
    ("企画", "kikaku"),
    ("サービス", "service"),
    ("ホールディングス", "holdings"),
    ("商会", "shokai"),
    ("設計", "sekkei"),
    ("機械", "kikai"),
    ("電子", "denshi"),
    ("水産", "suisan"),
)

# (prefecture, city, area code, postal code prefix): an area code that fits the address.
_CITIES: tuple[tuple[str, str, str, str], ...] = (
    ("東京都", "千代田区", "03", "100"),
    ("東京都", "中央区", "03", "104"),
    ("東京都", "港区", "03", "105"),
    ("東京都", "新宿区", "03", "160"),
    ("東京都", "渋谷区", "03", "150"),
    ("東京都", "品川区", "03", "141"),
    ("大阪府", "大阪市北区", "06", "530"),
    ("大阪府", "大阪市中央区", "06", "541"),
    ("愛知県", "名古屋市中区", "052", "460"),
    ("神奈川県", "横浜市西区", "045", "220"),
    ("福岡県", "福岡市博多区", "092", "812"),
    ("北海道", "札幌市中央区", "011", "060"),
    ("京都府", "京都市下京区", "075", "600"),
    ("宮城県", "仙台市青葉区", "022", "980"),
    ("広島県", "広島市中区", "082", "730"),
    ("兵庫県", "神戸市中央区", "078", "650"),
    ("埼玉県", "さいたま市大宮区", "048", "330"),
)

_DEPARTMENTS: tuple[str, ...] = (
    "営業部",
    "営業本部 第一営業部",
    "営業本部 第二営業部",
    "法人営業部",
    "東京支店 営業課",
    "総務部",
    "人事部",
    "経理部",
    "財務部",
    "情報システム部",
    "開発部",
    "技術開発本部",
    "マーケティング部",
    "経営企画室",
    "購買部",
    "製造部",
    "品質保証部",
    "海外事業部",
    "カスタマーサクセス部",
    "DX推進室",
    "",
)

_TITLES: tuple[str, ...] = (
    "部長",
    "課長",
    "係長",
    "主任",
    "代表取締役社長",
    "取締役",
    "執行役員",
    "マネージャー",
    "シニアマネージャー",
    "エンジニア",
    "担当",
    "課長代理",
    "部長代理",
    "室長",
    "本部長",
    "",
    "",
)

_TAGS: tuple[str, ...] = (
    "展示会2023",
    "展示会2024",
    "セミナー",
    "見込み客",
    "既存顧客",
    "代理店",
    "パートナー",
    "要フォロー",
    "Webinar",
)

_LEGAL_FORM_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("株式会社", 0.85),
    ("有限会社", 0.07),
    ("合同会社", 0.05),
    ("一般社団法人", 0.03),
)
# Abbreviations printed on cards (after NFKC ㈱ and （株） become (株), which normalize folds).
_LEGAL_ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "株式会社": ("(株)", "㈱", "（株）"),
    "有限会社": ("(有)", "㈲"),
    "合同会社": ("(同)",),
    "一般社団法人": ("(一社)",),
}
_EMAIL_CONVENTIONS: tuple[str, ...] = ("f.l", "l.f", "fl", "f-l", "l", "l_f", "fi.l", "l.fi")
_BRANCH_TEXTS: tuple[str, ...] = (" 東京支店", " 大阪営業所", " 本社", " 営業本部")

_FULL_WIDTH = str.maketrans("0123456789-()+", "０１２３４５６７８９－（）＋")
_HIRAGANA = str.maketrans({chr(c + 0x60): chr(c) for c in range(0x3041, 0x3097)})
# Katakana -> half-width katakana for the few cards whose reading was typed that way.
_KATAKANA = (
    "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲン"
    "ァィゥェォッャュョー"
)
_HALF_KATAKANA = "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝｧｨｩｪｫｯｬｭｮｰ"
_VOICED = ("ガギグゲゴザジズゼゾダヂヅデドバビブベボ", "ｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾊﾋﾌﾍﾎ")
_HALF_WIDTH_KANA = str.maketrans(
    {
        **dict(zip(_KATAKANA, _HALF_KATAKANA, strict=True)),
        **{k: v + "ﾞ" for k, v in zip(*_VOICED, strict=True)},
        **{k: v + "ﾟ" for k, v in zip("パピプペポ", "ﾊﾋﾌﾍﾎ", strict=True)},
    }
)


def _cp932_ok(text: str) -> bool:
    try:
        text.encode("cp932")
    except UnicodeEncodeError:
        return False
    return True


# Common kanji -> old forms that people really print on cards (and that CP932 can carry).
_OLD_FORMS: dict[str, tuple[str, ...]] = {}
for _old, _new in KANJI_VARIANTS.items():
    if _cp932_ok(_old) and _old not in {"齊"}:  # 斉 people rarely print 齊; keep it out
        _OLD_FORMS[_new] = (*_OLD_FORMS.get(_new, ()), _old)


@dataclass(frozen=True, slots=True)
class _Pools:
    last_names: tuple[tuple[str, str, str], ...]
    first_names: tuple[tuple[str, str, str], ...]
    towns: tuple[str, ...]
    buildings: tuple[str, ...]


@lru_cache(maxsize=8)
def _pools(seed: int) -> _Pools:
    fake = Faker("ja_JP")
    fake.seed_instance(seed)
    # dict.fromkeys keeps Faker's (seeded) order, so pools do not depend on hash randomization.
    last = dict.fromkeys(fake.last_name_pair() for _ in range(600))
    last.update(dict.fromkeys(_EXTRA_LAST_NAMES))
    first = dict.fromkeys(fake.first_name_pair() for _ in range(600))
    first.update(dict.fromkeys(_EXTRA_FIRST_NAMES))
    towns = dict.fromkeys(fake.town() for _ in range(400))
    buildings = dict.fromkeys(fake.building_name() for _ in range(100))
    return _Pools(
        last_names=tuple(n for n in last if _cp932_ok(n[0])),
        first_names=tuple(n for n in first if _cp932_ok(n[0])),
        towns=tuple(t for t in towns if _cp932_ok(t) and t.isalpha()),
        buildings=tuple(b for b in buildings if _cp932_ok(b)),
    )


@dataclass(slots=True)
class _Company:
    core: str
    legal_form: str
    legal_prefix: bool
    domain: str
    email_convention: str
    area: str
    tel: tuple[str, str, str]
    fax: tuple[str, str, str]
    postal: str
    prefecture: str
    city: str
    town: str
    block: tuple[int, int, int]
    building: str
    floor: int
    locals: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _Person:
    label: str
    last: tuple[str, str, str]
    first: tuple[str, str, str]
    company: _Company
    department: str
    title: str
    email_local: str
    mobile: tuple[str, str, str] | None
    direct_tel: tuple[str, str, str] | None
    old_form_rate: float


def _affine(index: int, size: int, multiplier: int, offset: int) -> int:
    # multiplier is coprime with size, so this is a permutation: distinct indexes, distinct numbers.
    return (index * multiplier + offset) % size


# Company numbers, faxes and direct lines come from disjoint index ranges of one permutation,
# so no two of them share a number by accident (only real duplicates should match).
_FAX_BASE = 2_000_000
_DIRECT_BASE = 4_000_000


def _subscriber(index: int) -> int:
    return _affine(index, 8_000_000, 2_654_437, 1_234_567)


class _Generator:
    def __init__(
        self,
        n: int,
        seed: int,
        owners: list[SyntheticOwner] | tuple[SyntheticOwner, ...],
        duplicate_rate: float,
        bad_rate: float,
        with_person_ids: bool,
    ) -> None:
        if not owners:
            raise ValueError("at least one owner is needed")
        self.n = n
        self.rng = random.Random(seed)
        self.pools = _pools(seed)
        self.owners = list(owners)
        self.owner_weights = _cumulative([o.weight for o in self.owners])
        self.duplicate_rate = duplicate_rate
        self.bad_rate = bad_rate
        self.with_person_ids = with_person_ids
        self.person_count = 0
        self.bad_count = 0
        self.recent: list[_Person] = []
        self.domains: set[str] = set()
        self.cores: set[str] = set()
        expected_persons = max(1, int(n / (1 + 2 * max(0.0, duplicate_rate))))
        self.companies = [self._company(i) for i in range(max(3, expected_persons // 5))]

    # -- companies --------------------------------------------------------------------------

    def _company(self, index: int) -> _Company:
        rng = self.rng
        for _ in range(50):
            pattern = rng.random()
            category, category_romaji = rng.choice(_CATEGORIES)
            if pattern < 0.45:
                kanji, _kana, romaji = rng.choice(self.pools.last_names)
                core, slug = kanji + category, f"{romaji.lower()}-{category_romaji}"
            elif pattern < 0.7:
                brand, brand_romaji = rng.choice(_BRANDS)
                core, slug = brand + category, f"{brand_romaji}-{category_romaji}"
            else:
                place, place_romaji = rng.choice(_PLACES)
                if rng.random() < 0.5:
                    kanji, _kana, romaji = rng.choice(self.pools.last_names)
                    core, slug = place + kanji + category, f"{place_romaji}-{romaji.lower()}"
                else:
                    brand, brand_romaji = rng.choice(_BRANDS)
                    core, slug = place + brand + category, f"{place_romaji}-{brand_romaji}"
            if core not in self.cores:
                break
        else:
            core, slug = f"{core}{index}", f"{slug}{index}"
        self.cores.add(core)
        tld = rng.choice((".co.jp", ".co.jp", ".co.jp", ".jp", ".com"))
        domain = slug + tld
        suffix = 2
        while domain in self.domains:
            domain = f"{slug}{suffix}{tld}"
            suffix += 1
        self.domains.add(domain)
        legal_form = _weighted(rng, _LEGAL_FORM_WEIGHTS)
        prefecture, city, area, postal_prefix = rng.choice(_CITIES)
        tel = _fixed_number(area, _subscriber(index))
        fax_sub = _subscriber(_FAX_BASE + index)
        return _Company(
            core=core,
            legal_form=legal_form,
            legal_prefix=legal_form != "株式会社" or rng.random() < 0.6,
            domain=domain,
            email_convention=rng.choice(_EMAIL_CONVENTIONS),
            area=area,
            tel=tel,
            fax=_fixed_number(area, fax_sub),
            postal=f"{postal_prefix}-{rng.randrange(10000):04d}",
            prefecture=prefecture,
            city=city,
            town=rng.choice(self.pools.towns),
            block=(rng.randint(1, 5), rng.randint(1, 30), rng.randint(1, 20)),
            building=(
                rng.choice(self.pools.towns) + rng.choice(self.pools.buildings) + "ビル"
                if rng.random() < 0.7
                else ""
            ),
            floor=rng.randint(1, 30),
        )

    def _pick_company(self, avoid: _Company | None = None) -> _Company:
        # Squaring skews towards the first companies: a few large ones, many small ones.
        while True:
            company = self.companies[int(len(self.companies) * self.rng.random() ** 2)]
            if company is not avoid or len(self.companies) == 1:
                return company

    # -- persons -------------------------------------------------------------------------------

    def _email_local(self, company: _Company, last: tuple[str, ...], first: tuple[str, ...]) -> str:
        ln, fn = last[2].lower(), first[2].lower()
        local = {
            "f.l": f"{fn}.{ln}",
            "l.f": f"{ln}.{fn}",
            "fl": f"{fn}{ln}",
            "f-l": f"{fn[0]}-{ln}",
            "l": ln,
            "l_f": f"{ln}_{fn[0]}",
            "fi.l": f"{fn[0]}.{ln}",
            "l.fi": f"{ln}.{fn[0]}",
        }[company.email_convention]
        candidate, number = local, 2
        while candidate in company.locals:
            candidate = f"{local}{number}"
            number += 1
        company.locals.add(candidate)
        return candidate

    def _person(self) -> _Person:
        rng = self.rng
        self.person_count += 1
        index = self.person_count
        label = f"P{index:07d}"
        namesake = self.recent[rng.randrange(len(self.recent))] if self.recent else None
        if namesake is not None and rng.random() < 0.015:
            # Same name at the same company, but a different human (own e-mail and mobile).
            last, first, company = namesake.last, namesake.first, namesake.company
        else:
            last = rng.choice(self.pools.last_names)
            first = rng.choice(self.pools.first_names)
            company = self._pick_company()
        has_old_form = any(ch in _OLD_FORMS for ch in last[0]) and rng.random() < 0.3
        mobile = None
        if rng.random() < 0.6:
            prefix = rng.choice(("090", "080", "070"))
            number = _affine(index, 100_000_000, 48_271, 7_777_777)
            mobile = (prefix, f"{number // 10_000:04d}", f"{number % 10_000:04d}")
        direct = None
        if rng.random() < 0.25:
            direct = _fixed_number(company.area, _subscriber(_DIRECT_BASE + index))
        person = _Person(
            label=label,
            last=last,
            first=first,
            company=company,
            department=rng.choice(_DEPARTMENTS),
            title=rng.choice(_TITLES),
            email_local=self._email_local(company, last, first),
            mobile=mobile,
            direct_tel=direct,
            old_form_rate=0.6 if has_old_form else 0.0,
        )
        if len(self.recent) < 256:
            self.recent.append(person)
        else:
            self.recent[rng.randrange(256)] = person
        return person

    def _change_job(self, person: _Person) -> None:
        rng = self.rng
        person.company = self._pick_company(avoid=person.company)
        person.email_local = self._email_local(person.company, person.last, person.first)
        person.department = rng.choice(_DEPARTMENTS)
        person.title = rng.choice(_TITLES)
        person.direct_tel = None

    # -- rendering -------------------------------------------------------------------------------

    def _company_name(self, company: _Company) -> str:
        rng = self.rng
        roll = rng.random()
        core, legal = company.core, company.legal_form
        if roll < 0.6:
            prefix = company.legal_prefix
        elif roll < 0.7:
            prefix = not company.legal_prefix if legal == "株式会社" else company.legal_prefix
        else:
            legal = rng.choice(_LEGAL_ABBREVIATIONS[legal])
            prefix = company.legal_prefix
        space = " " if rng.random() < 0.05 else ""
        name = f"{legal}{space}{core}" if prefix else f"{core}{space}{legal}"
        if rng.random() < 0.03:
            name += rng.choice(_BRANCH_TEXTS)
        return name

    def _name(self, person: _Person) -> tuple[str, str, str, str]:
        rng = self.rng
        last, first = person.last[0], person.first[0]
        if person.old_form_rate and rng.random() < person.old_form_rate:
            last = "".join(rng.choice(_OLD_FORMS[ch]) if ch in _OLD_FORMS else ch for ch in last)
        last_kana, first_kana = person.last[1], person.first[1]
        roll = rng.random()
        if roll < 0.04:
            last, first = f"{last} {first}", ""
        elif roll < 0.06:
            last, first = f"{last}\u3000{first}", ""
        elif roll < 0.09:
            last, first = f" {last} ", f"{first} "
        elif roll < 0.11 and len(first) > 1:
            first = f"{first[0]} {first[1:]}"
        roll = rng.random()
        if roll < 0.05:
            last_kana, first_kana = last_kana.translate(_HIRAGANA), first_kana.translate(_HIRAGANA)
        elif roll < 0.10:
            last_kana = last_kana.translate(_HALF_WIDTH_KANA)
            first_kana = first_kana.translate(_HALF_WIDTH_KANA)
        elif roll < 0.15:
            last_kana = first_kana = ""
        return last, first, last_kana, first_kana

    def _email(self, person: _Person) -> str:
        roll = self.rng.random()
        if roll < 0.04:
            return ""
        address = f"{person.email_local}@{person.company.domain}"
        if roll < 0.14:
            local, domain = address.split("@")
            return ".".join(p.capitalize() for p in local.split(".")) + "@" + domain.capitalize()
        if roll < 0.17:
            return address.upper()
        return address

    def _phone(self, parts: tuple[str, str, str] | None) -> str:
        if parts is None:
            return ""
        a, b, c = parts
        roll = self.rng.random()
        if roll < 0.6:
            return f"{a}-{b}-{c}"
        if roll < 0.7:
            return a + b + c
        if roll < 0.78:
            return f"+81 {a[1:]} {b} {c}"
        if roll < 0.82:
            return f"+81-{a[1:]}-{b}-{c}"
        if roll < 0.86:
            return f"({a}){b}-{c}"
        if roll < 0.9:
            return f"{a} {b} {c}"
        return f"{a}-{b}-{c}".translate(_FULL_WIDTH)

    def _address(self, company: _Company) -> tuple[str, str, str]:
        rng = self.rng
        chome, ban, go = company.block
        roll = rng.random()
        if roll < 0.6:
            block = f"{chome}-{ban}-{go}"
        elif roll < 0.85:
            block = f"{chome}丁目{ban}番{go}号"
        else:
            block = f"{chome}-{ban}-{go}".translate(_FULL_WIDTH)
        street = f"{company.city}{company.town}{block}"
        building = ""
        if company.building:
            floor = f"{company.floor}F" if rng.random() < 0.6 else f"{company.floor}階"
            building = f"{company.building} {floor}"
        postal = company.postal if rng.random() < 0.9 else company.postal.replace("-", "")
        return street, building, postal

    def _url(self, company: _Company) -> str:
        roll = self.rng.random()
        if roll < 0.6:
            return f"https://www.{company.domain}/"
        if roll < 0.75:
            return f"http://www.{company.domain}"
        if roll < 0.9:
            return f"www.{company.domain}"
        return ""

    def _date(self, day: date) -> str:
        roll = self.rng.random()
        if roll < 0.85:
            return f"{day.year}/{day.month:02d}/{day.day:02d}"
        if roll < 0.95:
            return day.isoformat()
        return f"{day.year}年{day.month}月{day.day}日"

    def _row(self, person: _Person, day: date) -> dict[str, str]:
        rng = self.rng
        owner = rng.choices(self.owners, cum_weights=self.owner_weights)[0]
        company = person.company
        last, first, last_kana, first_kana = self._name(person)
        street, building, postal = self._address(company)
        tel = self._phone(person.direct_tel or company.tel)
        tags = ""
        if rng.random() < 0.4:
            tags = rng.choice((";", "、", ",")).join(rng.sample(_TAGS, rng.randint(1, 2)))
        return {
            "名刺ID": "",
            "人物ID": person.label if self.with_person_ids else "",
            "名刺所有者ユーザID": owner.user_id,
            "名刺所有者": owner.name,
            "名刺所有者メールアドレス": owner.email,
            "会社名": self._company_name(company),
            "部署名": person.department,
            "役職": person.title,
            "氏名[姓]": last,
            "氏名[名]": first,
            "氏名カナ[姓]": last_kana,
            "氏名カナ[名]": first_kana,
            "メールアドレス": self._email(person),
            "電話番号": tel,
            "携帯電話": self._phone(person.mobile) if rng.random() < 0.9 else "",
            "FAX": self._phone(company.fax) if rng.random() < 0.7 else "",
            "URL": self._url(company),
            "郵便番号": postal,
            "都道府県": company.prefecture,
            "住所": street,
            "建物名": building,
            "名刺交換日": self._date(day),
            "タグ": tags,
        }

    def _person_rows(self, budget: int) -> list[tuple[dict[str, str], str]]:
        rng = self.rng
        person = self._person()
        count = 1
        if rng.random() < self.duplicate_rate:
            count = rng.randint(2, 4)
        count = min(count, budget)
        # A job change needs something that survives it: the same mobile number.
        job_change_at = 0
        if count > 1 and person.mobile is not None and rng.random() < 0.08:
            job_change_at = rng.randint(1, count - 1)
        day = date(2015, 1, 1) + timedelta(days=rng.randrange(3650))
        rows = []
        for k in range(count):
            if k:
                day += timedelta(days=rng.randint(30, 900))
                if k == job_change_at:
                    self._change_job(person)
                elif rng.random() < 0.35:
                    # Later card, new position: promoted or moved to another department.
                    if rng.random() < 0.5:
                        person.title = rng.choice(_TITLES)
                    else:
                        person.department = rng.choice(_DEPARTMENTS)
            rows.append((self._row(person, day), person.label))
        return rows

    # -- bad rows --------------------------------------------------------------------------------

    def _spoil(self, row: dict[str, str]) -> dict[str, str]:
        kind = BAD_ROW_KINDS[self.bad_count % len(BAD_ROW_KINDS)]
        self.bad_count += 1
        row = dict(row)
        if kind == "malformed_email":
            local = row["メールアドレス"].partition("@")[0] or "taro"
            row["メールアドレス"] = f"{local}@@example"
        elif kind == "bad_date":
            row["名刺交換日"] = self.rng.choice(("2023/13/45", "2023-02-30", "昨日", "12/05"))
        elif kind == "over_long":
            row["役職"] = "営業統括本部長" * 20
        elif kind == "control_char":
            row["部署名"] = (row["部署名"] or "営業部") + self.rng.choice(("\x07", "\x0b", "\x1b"))
        else:
            row["氏名[姓]"] = row["氏名[名]"] = row["会社名"] = ""
        return row

    # -- output ----------------------------------------------------------------------------------

    def rows(self) -> Iterator[tuple[dict[str, str], str]]:
        rng = self.rng
        # A bounded shuffle buffer spreads a person's cards apart without holding all rows.
        buffer: list[tuple[dict[str, str], str]] = []
        produced = 0
        emitted = 0
        while produced < self.n:
            batch = self._person_rows(self.n - produced)
            produced += len(batch)
            buffer.extend(batch)
            while len(buffer) > 2048:
                i = rng.randrange(len(buffer))
                buffer[i], buffer[-1] = buffer[-1], buffer[i]
                emitted += 1
                yield self._emit(buffer.pop(), emitted)
        rng.shuffle(buffer)
        for item in buffer:
            emitted += 1
            yield self._emit(item, emitted)

    def _emit(self, item: tuple[dict[str, str], str], index: int) -> tuple[dict[str, str], str]:
        row, label = item
        row["名刺ID"] = f"C{index:08d}"
        if self.bad_rate and self.rng.random() < self.bad_rate:
            return self._spoil(row), REJECT_LABEL
        return row, label


def _cumulative(weights: Iterable[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


def _weighted(rng: random.Random, choices: tuple[tuple[str, float], ...]) -> str:
    roll = rng.random() * sum(w for _, w in choices)
    for value, weight in choices:
        roll -= weight
        if roll < 0:
            return value
    return choices[-1][0]


def _fixed_number(area: str, subscriber: int) -> tuple[str, str, str]:
    # Japanese fixed numbers have ten digits with the leading 0; local numbers start at 2.
    if len(area) == 3:
        digits = str(2_000_000 + subscriber)  # subscriber < 8,000,000: always 7 digits
        return area, digits[:3], digits[3:]
    digits = str(20_000_000 + subscriber)
    return area, digits[:4], digits[4:]


def generate_labeled_cards(
    n: int,
    *,
    seed: int = 0,
    owners: list[SyntheticOwner] | None = None,
    duplicate_rate: float = 0.25,
    bad_rate: float = 0.0,
    with_person_ids: bool = False,
) -> Iterator[tuple[dict[str, str], str]]:
    """Rows keyed by Sansan's CSV headers, each with its true person id or REJECT_LABEL.

    Deterministic for a given seed and n. A `duplicate_rate` share of persons has 2-4 cards
    that differ the way real cards do (spelling, formats, later title, a job change); namesakes
    at one company are different persons. `bad_rate` turns that share of rows into rows each
    of BAD_ROW_KINDS in turn, labelled REJECT_LABEL.
    """
    if n < 0:
        raise ValueError("n must not be negative")
    if not 0.0 <= duplicate_rate <= 1.0 or not 0.0 <= bad_rate <= 1.0:
        raise ValueError("duplicate_rate and bad_rate are shares between 0 and 1")
    if n == 0:
        return iter(())
    generator = _Generator(
        n,
        seed,
        owners if owners is not None else DEFAULT_OWNERS,
        duplicate_rate,
        bad_rate,
        with_person_ids,
    )
    return generator.rows()


def generate_cards(
    n: int,
    *,
    seed: int = 0,
    owners: list[SyntheticOwner] | None = None,
    duplicate_rate: float = 0.25,
    bad_rate: float = 0.0,
    with_person_ids: bool = False,
) -> Iterator[dict[str, str]]:
    """Rows keyed by Sansan's Japanese CSV headers; see generate_labeled_cards for the labels."""
    for row, _label in generate_labeled_cards(
        n,
        seed=seed,
        owners=owners,
        duplicate_rate=duplicate_rate,
        bad_rate=bad_rate,
        with_person_ids=with_person_ids,
    ):
        yield row


def write_csv(
    path: Path | str,
    rows: Iterable[Mapping[str, str]],
    *,
    encoding: str = "cp932",
    headers: tuple[str, ...] = SANSAN_HEADERS,
) -> int:
    """Write rows as a Sansan-style CSV (CRLF line ends, like Excel); returns the row count."""
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}")
    count = 0
    with Path(path).open("w", encoding=encoding, newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=headers, restval="", lineterminator="\r\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            count += 1
    return count
