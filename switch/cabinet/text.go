package cabinet

import (
	"strings"

	"github.com/tulpar-switch/tulpar/switch/order"
)

// Languages the cabinet speaks, in the order the switcher shows them.
var languages = []string{"kk", "ru", "en"}

var langNames = map[string]string{"kk": "Қазақша", "ru": "Русский", "en": "English"}

func validLang(l string) bool { _, ok := langNames[l]; return ok }

// texts are the cabinet's words: en, ru, kk. The Russian ones are the bank
// manual's where it has them (statuses, columns, the details' labels).
var texts = map[string][3]string{
	"cabinet":              {"Merchant cabinet", "Личный кабинет", "Жеке кабинет"},
	"language":             {"Language", "Язык", "Тіл"},
	"login_title":          {"Sign in", "Авторизация", "Кіру"},
	"login_sub":            {"Sign in to your account", "Войдите в свою учетную запись", "Есептік жазбаңызға кіріңіз"},
	"login":                {"Login", "Логин", "Логин"},
	"password":             {"Password", "Пароль", "Құпиясөз"},
	"sign_in":              {"Sign in", "Войти", "Кіру"},
	"sign_out":             {"Sign out", "Выйти", "Шығу"},
	"bad_login":            {"Wrong login or password.", "Неверный логин или пароль.", "Логин немесе құпиясөз қате."},
	"locked_now":           {"Wrong password. The account is locked for %d min.", "Неверный пароль. Доступ заблокирован на %d мин.", "Құпиясөз қате. Кіру %d минутқа бұғатталды."},
	"locked":               {"The account is locked after wrong passwords. Try again in %d min or ask the operator to unlock it.", "Доступ заблокирован после неверных паролей. Повторите через %d мин или обратитесь к оператору.", "Құпиясөз қате енгізілгендіктен кіру бұғатталды. %d минуттан кейін қайталаңыз немесе операторға жүгініңіз."},
	"too_many_tries":       {"Too many wrong passwords from your address. Try again in %d min.", "Слишком много неверных паролей с вашего адреса. Повторите через %d мин.", "Сіздің мекенжайыңыздан құпиясөз тым көп рет қате енгізілді. %d минуттан кейін қайталаңыз."},
	"busy":                 {"Too many sign-ins at once. Try again in a few seconds.", "Слишком много входов одновременно. Повторите через несколько секунд.", "Бір мезгілде кіру тым көп. Бірнеше секундтан кейін қайталаңыз."},
	"disabled":             {"The account is disabled.", "Учетная запись отключена.", "Есептік жазба өшірілген."},
	"lock_rule":            {"After three wrong passwords the account is locked for 30 minutes.", "После трёх неверных паролей доступ блокируется на 30 минут.", "Құпиясөз үш рет қате енгізілсе, кіру 30 минутқа бұғатталады."},
	"expired_form":         {"The page was out of date. Please try again.", "Страница устарела. Повторите, пожалуйста.", "Бет ескірген. Қайталап көріңіз."},
	"unavailable":          {"The cabinet is temporarily unavailable. Try again in a minute.", "Кабинет временно недоступен. Повторите через минуту.", "Кабинет уақытша қолжетімсіз. Бір минуттан кейін қайталаңыз."},
	"nav_orders":           {"Transactions", "Транзакции", "Транзакциялар"},
	"nav_reports":          {"Reports", "Отчеты", "Есептер"},
	"nav_settings":         {"Settings", "Настройки", "Баптаулар"},
	"nav_links":            {"Payment links", "Ссылки на оплату", "Төлем сілтемелері"},
	"l_new":                {"New payment link or invoice", "Новая ссылка на оплату или счёт", "Жаңа төлем сілтемесі немесе шот"},
	"l_amount":             {"Amount (empty: the buyer chooses)", "Сумма (пусто: выбирает покупатель)", "Сомасы (бос: сатып алушы таңдайды)"},
	"l_min":                {"Least amount", "Минимальная сумма", "Ең аз сома"},
	"l_max":                {"Most amount", "Максимальная сумма", "Ең көп сома"},
	"l_description":        {"Description", "Описание", "Сипаттама"},
	"l_one_time":           {"One-time (an invoice)", "Одноразовая (счёт)", "Бір реттік (шот)"},
	"l_email":              {"Buyer's e-mail (the invoice is sent there)", "E-mail покупателя (на него придёт счёт)", "Сатып алушының e-mail-ы (шот соған жіберіледі)"},
	"l_name":               {"Buyer's name", "Имя покупателя", "Сатып алушының аты"},
	"l_ask_email":          {"The buyer enters an e-mail", "Покупатель вводит e-mail", "Сатып алушы e-mail енгізеді"},
	"l_ask_name":           {"The buyer enters a name", "Покупатель вводит имя", "Сатып алушы атын енгізеді"},
	"l_expires":            {"Valid until (empty: perpetual)", "Действует до (пусто: бессрочно)", "Мерзімі (бос: мерзімсіз)"},
	"l_two_stage":          {"Two-stage (hold, then complete)", "Двухстадийная (блокировка, затем завершение)", "Екі кезеңді (бұғаттау, содан кейін аяқтау)"},
	"l_create":             {"Create", "Создать", "Құру"},
	"l_list":               {"Links", "Ссылки", "Сілтемелер"},
	"l_link":               {"Link", "Ссылка", "Сілтеме"},
	"l_state":              {"State", "Состояние", "Күйі"},
	"l_orders":             {"Orders", "Заказы", "Тапсырыстар"},
	"l_disable":            {"Switch off", "Отключить", "Өшіру"},
	"l_none":               {"No links yet.", "Ссылок пока нет.", "Әзірге сілтемелер жоқ."},
	"l_created":            {"Link created: %s", "Ссылка создана: %s", "Сілтеме құрылды: %s"},
	"l_disabled_done":      {"Link switched off.", "Ссылка отключена.", "Сілтеме өшірілді."},
	"l_bad":                {"Check the field: %s", "Проверьте поле: %s", "Өрісті тексеріңіз: %s"},
	"l_active":             {"active", "активна", "белсенді"},
	"l_expired":            {"expired", "истекла", "мерзімі өтті"},
	"l_disabled":           {"switched off", "отключена", "өшірілген"},
	"l_paid":               {"paid", "оплачена", "төленді"},
	"l_from_to":            {"%s – %s", "%s – %s", "%s – %s"},
	"l_cart":               {"Goods (for the receipt)", "Товары (для чека)", "Тауарлар (чек үшін)"},
	"l_cart_hint":          {"Empty lines are skipped. With goods and no amount, the amount is their total.", "Пустые строки не учитываются. Если сумма не указана, она равна сумме товаров.", "Бос жолдар ескерілмейді. Сома көрсетілмесе, ол тауарлардың жиынына тең."},
	"l_cart_name":          {"Name", "Наименование", "Атауы"},
	"l_cart_qty":           {"Qty", "Кол-во", "Саны"},
	"l_cart_price":         {"Price", "Цена", "Бағасы"},
	"l_line_name":          {"Goods, line %d: name", "Товары, строка %d: наименование", "Тауарлар, %d-жол: атауы"},
	"l_line_qty":           {"Goods, line %d: quantity", "Товары, строка %d: количество", "Тауарлар, %d-жол: саны"},
	"l_line_price":         {"Goods, line %d: price", "Товары, строка %d: цена", "Тауарлар, %d-жол: бағасы"},
	"l_fields":             {"Questions for the buyer", "Вопросы покупателю", "Сатып алушыға сұрақтар"},
	"l_fields_hint":        {"The answers come with the order under the key (a-z, 0-9, _; empty: question_N).", "Ответы придут с заказом под ключом (a-z, 0-9, _; пусто: question_N).", "Жауаптар тапсырыспен бірге кілт бойынша келеді (a-z, 0-9, _; бос: question_N)."},
	"l_q_key_head":         {"Key", "Ключ", "Кілт"},
	"l_q_label_head":       {"Question", "Вопрос", "Сұрақ"},
	"l_q_required":         {"Required", "Обязательный", "Міндетті"},
	"l_q_key":              {"Question %d: key", "Вопрос %d: ключ", "%d-сұрақ: кілті"},
	"l_q_label":            {"Question %d: text", "Вопрос %d: текст", "%d-сұрақ: мәтіні"},
	"l_q_req":              {"Question %d: required", "Вопрос %d: обязательный", "%d-сұрақ: міндетті"},
	"nav_users":            {"Users", "Пользователи", "Пайдаланушылар"},
	"nav_audit":            {"Audit log", "Журнал действий", "Әрекеттер журналы"},
	"all_merchants":        {"All merchants", "Все магазины", "Барлық дүкендер"},
	"filters":              {"Filters", "Фильтры", "Фильтрлер"},
	"templates":            {"Templates", "Шаблоны", "Үлгілер"},
	"order_section":        {"Order", "Заказ", "Тапсырыс"},
	"payer_section":        {"Payer information", "Информация о плательщике", "Төлеуші туралы ақпарат"},
	"date_range":           {"Creation date", "Дата создания", "Құрылған күні"},
	"from":                 {"from", "с", "бастап"},
	"to":                   {"to", "по", "дейін"},
	"amount_range":         {"Amount", "Сумма", "Сома"},
	"amount_from":          {"From", "От", "Бастап"},
	"amount_to":            {"To", "До", "Дейін"},
	"merchant":             {"Merchant login", "Логин продавца", "Сатушы логині"},
	"order_number":         {"Order number", "Номер заказа", "Тапсырыс нөмірі"},
	"number_ph":            {"For example, 50000", "Например, 50000", "Мысалы, 50000"},
	"status":               {"Status", "Статус", "Мәртебе"},
	"last4":                {"Last 4 card digits", "Последние 4 цифры номера карты", "Карта нөмірінің соңғы 4 саны"},
	"rrn":                  {"RRN", "RRN", "RRN"},
	"approval":             {"Approval code", "Код авторизации", "Авторизация коды"},
	"apply":                {"Apply", "Применить", "Қолдану"},
	"reset":                {"Reset", "Сбросить", "Тазарту"},
	"cancel_btn":           {"Cancel", "Отмена", "Болдырмау"},
	"save_template":        {"Save as template", "Сохранить как шаблон", "Үлгі ретінде сақтау"},
	"template_name":        {"Template name", "Название шаблона", "Үлгі атауы"},
	"delete":               {"Delete", "Удалить", "Жою"},
	"no_templates":         {"No saved templates yet.", "Сохраненных шаблонов пока нет.", "Сақталған үлгілер әзірге жоқ."},
	"columns_btn":          {"Columns", "Настройки столбцов", "Бағандарды баптау"},
	"columns_title":        {"Column settings", "Настройки столбцов", "Бағандарды баптау"},
	"columns_help":         {"Choose the columns shown and their order (at most 10).", "Задайте количество и порядок столбцов для отображения на экране (максимум 10).", "Экранда көрсетілетін бағандардың санын және ретін таңдаңыз (ең көбі 10)."},
	"chosen":               {"Chosen: %d / %d", "Выбрано: %d / %d", "Таңдалды: %d / %d"},
	"up":                   {"Move up", "Выше", "Жоғары"},
	"down":                 {"Move down", "Ниже", "Төмен"},
	"too_many_cols":        {"At most 10 columns.", "Не более 10 столбцов.", "10 бағаннан артық емес."},
	"no_cols":              {"Choose at least one column.", "Выберите хотя бы один столбец.", "Кемінде бір бағанды таңдаңыз."},
	"period_of":            {"from %s to %s", "с %s по %s", "%s бастап %s дейін"},
	"found":                {"Found: %d", "Найдено: %d", "Табылды: %d"},
	"nothing_found":        {"No transactions match the filter.", "Нет транзакций, подходящих под фильтр.", "Фильтрге сәйкес транзакциялар жоқ."},
	"page_of":              {"Page %d of %d", "Страница %d из %d", "%d / %d бет"},
	"first":                {"First", "Первая", "Бірінші"},
	"prev":                 {"Previous", "Назад", "Артқа"},
	"next":                 {"Next", "Вперёд", "Алға"},
	"last":                 {"Last", "Последняя", "Соңғы"},
	"go_page":              {"Go", "Перейти", "Өту"},
	"per_page":             {"Rows per page", "Строк на странице", "Беттегі жолдар"},
	"download":             {"Download", "Скачать", "Жүктеу"},
	"bad_filter":           {"Check the filter: %s.", "Проверьте фильтр: %s.", "Фильтрді тексеріңіз: %s."},
	"email_report_btn":     {"Send by e-mail", "Отправить на почту", "Поштаға жіберу"},
	"email_to_label":       {"E-mail addresses", "Адреса e-mail", "E-mail мекенжайлары"},
	"email_report_off":     {"Sending reports by e-mail is not configured.", "Отправка отчётов по почте не настроена.", "Есептерді поштамен жіберу бапталмаған."},
	"bad_email_to":         {"Check the e-mail addresses (%q): one to %d valid addresses.", "Проверьте адреса e-mail (%q): от одного до %d верных адресов.", "E-mail мекенжайларын тексеріңіз (%q): біреуден %d дұрыс мекенжайға дейін."},
	"email_report_subject": {"Transactions %s", "Операции за %s", "%s операциялары"},
	"email_report_body":    {"The register of transactions for %s (%d) is attached as CSV and XLSX, as requested by %s.", "Реестр операций за %s (%d) во вложении, CSV и XLSX, по запросу %s.", "%s кезеңіндегі операциялар тізілімі (%d) тіркемеде, CSV және XLSX, %s сұрауы бойынша."},
	"fiscal_dead":          {"%d fiscal receipt(s) could not be issued by the fiscal service after every retry: the operator must resend them (the law requires one for every sale and return).", "Фискальный сервис не выдал %d чек(ов) после всех попыток: оператор должен отправить их снова (закон требует чек на каждую продажу и возврат).", "Фискалдық сервис барлық әрекеттен кейін %d чек бермеді: оператор оларды қайта жіберуі керек (заң әр сату мен қайтаруға чек талап етеді)."},
	"emailed":              {"The report will be e-mailed to %s.", "Отчёт будет отправлен на %s.", "Есеп %s мекенжайына жіберіледі."},
	"tx_info":              {"Transaction information", "Информация о транзакции", "Транзакция туралы ақпарат"},
	"no_of":                {"No. %s of %s", "№ %s от %s", "%s күнгі № %s"},
	"tab_details":          {"Operation details", "Детали операции", "Операция егжей-тегжейі"},
	"tab_history":          {"History", "История", "Тарихы"},
	"order_id":             {"Unique order number in the system", "Уникальный номер заказа в системе", "Жүйедегі тапсырыстың бірегей нөмірі"},
	"response":             {"Response code", "Код ответа", "Жауап коды"},
	"registered_amt":       {"Registration amount", "Сумма регистрации", "Тіркеу сомасы"},
	"approved_amt":         {"Approved amount", "Сумма авторизации", "Авторизация сомасы"},
	"deposited_amt":        {"Captured amount", "Сумма списания", "Есептен шығару сомасы"},
	"refunded_amt":         {"Refund amount", "Сумма возврата", "Қайтару сомасы"},
	"created_at":           {"Created", "Дата создания", "Құрылған күні"},
	"updated_at":           {"Last change", "Дата изменения", "Өзгерту күні"},
	"last_refund":          {"Last refund", "Дата последнего рефанда", "Соңғы қайтару күні"},
	"eci":                  {"ECI", "ECI", "ECI"},
	"card":                 {"Card number", "Номер карты", "Карта нөмірі"},
	"ip":                   {"IP address", "IP-адрес", "IP-мекенжай"},
	"expiry":               {"Card expiry", "Срок действия карты", "Картаның жарамдылық мерзімі"},
	"holder":               {"Cardholder name", "Имя владельца карты", "Карта иесінің аты"},
	"pay_system":           {"Payment system", "Платежная система", "Төлем жүйесі"},
	"email":                {"E-mail", "E-mail", "E-mail"},
	"customer":             {"Customer", "Клиент", "Клиент"},
	"extra_params":         {"Additional parameters", "Дополнительные параметры", "Қосымша параметрлер"},
	"name":                 {"Name", "Имя", "Атауы"},
	"value":                {"Value", "Значение", "Мәні"},
	"cart":                 {"Cart", "Корзина", "Себет"},
	"item":                 {"Item", "Товар", "Тауар"},
	"quantity":             {"Quantity", "Количество", "Саны"},
	"price":                {"Price", "Цена", "Бағасы"},
	"payment_type":         {"Payment type", "Тип оплаты", "Төлем түрі"},
	"two_stage":            {"Two-stage", "Двухстадийная", "Екі кезеңді"},
	"one_stage":            {"One-stage", "Одностадийная", "Бір кезеңді"},
	"op_status":            {"Status", "Статус", "Мәртебе"},
	"op_type":              {"Operation type", "Тип операции", "Операция түрі"},
	"op_date":              {"Date", "Дата", "Күні"},
	"op_desc":              {"Description", "Описание", "Сипаттама"},
	"op_ok":                {"Successful", "Успешно", "Сәтті"},
	"op_fail":              {"Failed", "Ошибка", "Қате"},
	"op_pending":           {"In progress", "В обработке", "Өңделуде"},
	"op_queued":            {"Queued to the bank", "Передаётся в банк", "Банкке жіберілуде"},
	"op_timeout":           {"No answer: reversed", "Нет ответа: отменено", "Жауап жоқ: жойылды"},
	"bank_messages":        {"Messages with the bank (journal)", "Сообщения с банком (журнал)", "Банкпен хабарламалар (журнал)"},
	"journal_all":          {"The order's journal", "Журнал заказа", "Тапсырыс журналы"},
	"dir":                  {"Direction", "Направление", "Бағыты"},
	"channel":              {"Channel", "Канал", "Арна"},
	"terminal":             {"Terminal", "Терминал", "Терминал"},
	"merchant_id":          {"Merchant ID", "ID мерчанта", "Мерчант ID"},
	"actions":              {"Actions", "Действия", "Әрекеттер"},
	"do_complete":          {"Complete", "Завершить", "Аяқтау"},
	"do_cancel":            {"Cancel payment", "Отменить", "Төлемді болдырмау"},
	"do_refund":            {"Refund", "Возврат", "Қайтару"},
	"do_decline":           {"Cancel order", "Отменить заказ", "Тапсырысты болдырмау"},
	"action_amount":        {"Amount", "Сумма", "Сома"},
	"full_amount":          {"empty: all %s", "пусто: всё, %s", "бос: барлығы, %s"},
	"refundable":           {"Refundable: %s", "Доступно к возврату: %s", "Қайтаруға болады: %s"},
	"confirm_title":        {"Confirm the operation", "Подтвердите операцию", "Операцияны растаңыз"},
	"confirm_q":            {"%s of %s for order No. %s?", "%s на сумму %s по заказу № %s?", "№ %s тапсырысы бойынша %s: %s?"},
	"confirm_btn":          {"Confirm", "Подтвердить", "Растау"},
	"back":                 {"Back", "Назад", "Артқа"},
	"done_ok":              {"Done: %s, %s.", "Выполнено: %s, %s.", "Орындалды: %s, %s."},
	"done_declined":        {"The bank declined the operation (%s).", "Банк отклонил операцию (%s).", "Банк операциядан бас тартты (%s)."},
	"done_timeout":         {"The bank did not answer; the operation was reversed and may be asked again.", "Банк не ответил; операция отменена, её можно повторить.", "Банк жауап бермеді; операция жойылды, оны қайталауға болады."},
	"err_progress":         {"An operation on this order is still in progress. Try again in a moment.", "По заказу ещё выполняется операция. Повторите через минуту.", "Тапсырыс бойынша операция әлі орындалуда. Сәлден кейін қайталаңыз."},
	"err_state":            {"Not possible in the order's status.", "Невозможно в текущем статусе заказа.", "Тапсырыстың ағымдағы мәртебесінде мүмкін емес."},
	"err_amount":           {"The amount is not possible: %s available.", "Недопустимая сумма: доступно %s.", "Сома қате: %s қолжетімді."},
	"err_amount_fmt":       {"Enter the amount as 1500.00.", "Укажите сумму в виде 1500.00.", "Соманы 1500.00 түрінде енгізіңіз."},
	"err_bank_down":        {"The bank cannot be reached now; try later.", "Банк сейчас недоступен; повторите позже.", "Банк қазір қолжетімсіз; кейінірек қайталаңыз."},
	"err_failed":           {"The operation failed; nothing was changed. Try again later.", "Операция не выполнена, ничего не изменено. Повторите позже.", "Операция орындалмады, ештеңе өзгермеді. Кейінірек қайталаңыз."},
	"not_found":            {"Not found", "Не найдено", "Табылмады"},
	"not_found_tx":         {"There is no such page, or it is not yours to see.", "Такой страницы нет или она вам недоступна.", "Мұндай бет жоқ немесе ол сізге қолжетімсіз."},
	"forbidden":            {"Not allowed", "Нет доступа", "Рұқсат жоқ"},
	"error":                {"Something went wrong", "Что-то пошло не так", "Бірдеңе дұрыс болмады"},
	"error_tx":             {"Please try again later.", "Повторите попытку позже.", "Кейінірек қайталап көріңіз."},
	"reports":              {"Reports", "Отчеты", "Есептер"},
	"p_day":                {"Day", "Сутки", "Тәулік"},
	"p_week":               {"Week", "Неделя", "Апта"},
	"p_month":              {"Month", "Месяц", "Ай"},
	"p_year":               {"Year", "Год", "Жыл"},
	"success":              {"Successful", "Успешно", "Сәтті"},
	"failure":              {"Failed", "Ошибка", "Қате"},
	"tx_count":             {"Number of transactions", "Количество транзакций", "Транзакциялар саны"},
	"total_tx":             {"Total transactions", "Всего транзакций", "Барлық транзакциялар"},
	"success_tx":           {"Successful", "Успешных", "Сәтті"},
	"failed_tx":            {"Failed", "Неуспешных", "Сәтсіз"},
	"open_tx":              {"Awaiting payment", "Ожидают оплаты", "Төлемді күтуде"},
	"conversion":           {"Conversion", "Конверсия", "Конверсия"},
	"decline_codes":        {"Decline codes", "Коды отказов", "Бас тарту кодтары"},
	"no_declines":          {"No declines in the period.", "Отказов за период нет.", "Кезеңде бас тартулар жоқ."},
	"period":               {"Period", "Период", "Кезең"},
	"refunded":             {"Refunded", "Возвращено", "Қайтарылды"},
	"chart_title":          {"Successful and failed by period", "Успешные и неуспешные по периодам", "Кезеңдер бойынша сәтті және сәтсіз"},
	"other_currency":       {"%d transactions in other currencies are not in the sums.", "%d транзакций в других валютах не вошли в суммы.", "Басқа валютадағы %d транзакция сомаларға кірмеді."},
	"settings":             {"Settings", "Настройки", "Баптаулар"},
	"s_main":               {"Main", "Основные", "Негізгі"},
	"change_pw":            {"Change password", "Смена пароля", "Құпиясөзді өзгерту"},
	"current_pw":           {"Current password", "Текущий пароль", "Ағымдағы құпиясөз"},
	"new_pw":               {"New password", "Новый пароль", "Жаңа құпиясөз"},
	"new_pw2":              {"New password again", "Новый пароль еще раз", "Жаңа құпиясөз қайтадан"},
	"pw_btn":               {"Change password", "Сменить пароль", "Құпиясөзді өзгерту"},
	"pw_rules":             {"At least 10 characters, not your login.", "Не короче 10 символов и не совпадает с логином.", "Кемінде 10 таңба, логинмен сәйкес келмейді."},
	"pw_mismatch":          {"The new passwords differ.", "Новые пароли не совпадают.", "Жаңа құпиясөздер сәйкес емес."},
	"pw_weak":              {"The new password is too weak: at least 10 characters, not your login, not the current one.", "Новый пароль слишком слабый: не короче 10 символов, не логин и не текущий пароль.", "Жаңа құпиясөз әлсіз: кемінде 10 таңба, логин емес және ағымдағы емес."},
	"pw_wrong":             {"The current password is wrong.", "Текущий пароль неверен.", "Ағымдағы құпиясөз қате."},
	"pw_changed":           {"The password is changed.", "Пароль изменен.", "Құпиясөз өзгертілді."},
	"pw_must":              {"Your password is temporary: choose your own to continue.", "Ваш пароль временный: задайте свой, чтобы продолжить.", "Құпиясөзіңіз уақытша: жалғастыру үшін өзіңіздікін орнатыңыз."},
	"email_title":          {"E-mail address", "Адрес электронной почты", "Электрондық пошта мекенжайы"},
	"email_help":           {"This address is used to restore access to the cabinet.", "Этот адрес будет использоваться для восстановления доступа к ЛК.", "Бұл мекенжай ЖК-ге кіруді қалпына келтіру үшін қолданылады."},
	"save":                 {"Save", "Сохранить", "Сақтау"},
	"saved":                {"Saved.", "Сохранено.", "Сақталды."},
	"bad_email":            {"Check the e-mail address.", "Проверьте адрес e-mail.", "E-mail мекенжайын тексеріңіз."},
	"s_integration":        {"Integration", "Интеграция", "Интеграция"},
	"callback_url":         {"Callback URL", "URL для уведомлений (callback)", "Хабарламаларға арналған URL (callback)"},
	"callback_help":        {"Where the switch notifies the shop of each payment, refund and cancel. Empty: as the operator configured.", "Куда шлюз сообщает магазину о каждом платеже, возврате и отмене. Пусто: как настроил оператор.", "Әр төлем, қайтару және болдырмау туралы дүкенге хабарланатын мекенжай. Бос: оператор баптағандай."},
	"callback_unsigned":    {"No callback secret is configured for this shop: callbacks to this URL go unsigned.", "Для магазина не задан секрет подписи: уведомления на этот URL уйдут без подписи.", "Дүкен үшін қолтаңба құпиясы берілмеген: осы URL-ге хабарламалар қолтаңбасыз жіберіледі."},
	"return_hosts":         {"Allowed return-URL hosts", "Разрешённые хосты URL возврата", "Қайтару URL-інің рұқсат етілген хосттары"},
	"return_help":          {"One per line: shop.kz, or *.shop.kz for its subdomains. Orders whose return or fail URL names another host are refused. Empty: any host.", "По одному в строке: shop.kz или *.shop.kz для поддоменов. Заказы с URL возврата на другой хост отклоняются. Пусто: любой хост.", "Әр жолда біреуден: shop.kz немесе қосалқы домендер үшін *.shop.kz. Басқа хостқа қайтару URL-і бар тапсырыстар қабылданбайды. Бос: кез келген хост."},
	"bad_settings":         {"Check the integration settings: %s.", "Проверьте настройки интеграции: %s.", "Интеграция баптауларын тексеріңіз: %s."},
	"users_title":          {"Users", "Пользователи", "Пайдаланушылар"},
	"role":                 {"Role", "Роль", "Рөлі"},
	"role_operator":        {"Operator", "Оператор", "Оператор"},
	"role_merchant":        {"Merchant", "Мерчант", "Мерчант"},
	"role_viewer":          {"Merchant, read only", "Мерчант, только просмотр", "Мерчант, тек қарау"},
	"state":                {"State", "Состояние", "Күйі"},
	"st_active":            {"Active", "Активен", "Белсенді"},
	"st_locked":            {"Locked until %s", "Заблокирован до %s", "%s дейін бұғатталған"},
	"st_locked_strangers":  {"Locked until %s, except from the user's own networks", "Заблокирован до %s, кроме сетей пользователя", "%s дейін бұғатталған, пайдаланушының өз желілерінен басқа"},
	"st_disabled":          {"Disabled", "Отключен", "Өшірілген"},
	"st_temp":              {"Temporary password", "Временный пароль", "Уақытша құпиясөз"},
	"last_sign_in":         {"Last sign-in", "Последний вход", "Соңғы кіру"},
	"unlock":               {"Unlock", "Разблокировать", "Бұғаттан шығару"},
	"reset_pw":             {"Reset password", "Сбросить пароль", "Құпиясөзді қалпына келтіру"},
	"disable":              {"Disable", "Отключить", "Өшіру"},
	"enable":               {"Enable", "Включить", "Қосу"},
	"create_user":          {"New user", "Новый пользователь", "Жаңа пайдаланушы"},
	"create":               {"Create", "Создать", "Құру"},
	"temp_pw_is":           {"Temporary password of %s: %s — give it to the user; it must be changed at the first sign-in.", "Временный пароль %s: %s — передайте пользователю; его нужно сменить при первом входе.", "%s уақытша құпиясөзі: %s — пайдаланушыға беріңіз; бірінші кіргенде оны өзгерту керек."},
	"user_unlocked":        {"%s is unlocked.", "%s разблокирован.", "%s бұғаттан шығарылды."},
	"user_changed":         {"%s is changed.", "%s изменен.", "%s өзгертілді."},
	"bad_user":             {"Check the new user: %s.", "Проверьте нового пользователя: %s.", "Жаңа пайдаланушыны тексеріңіз: %s."},
	"audit_title":          {"Audit log", "Журнал действий", "Әрекеттер журналы"},
	"time":                 {"Time", "Время", "Уақыт"},
	"who":                  {"Who", "Кто", "Кім"},
	"event":                {"Event", "Событие", "Оқиға"},
	"user":                 {"User", "Пользователь", "Пайдаланушы"},
	"detail":               {"Detail", "Подробности", "Толығырақ"},
	"older":                {"Older", "Ранее", "Ертерек"},
	"newest":               {"Newest", "Новые", "Жаңалары"},
	"all":                  {"All", "Все", "Барлығы"},
	"yes":                  {"Yes", "Да", "Иә"},
	"no":                   {"No", "Нет", "Жоқ"},
}

// t returns the text of key in lang.
func t(lang, key string) string {
	v, ok := texts[key]
	if !ok {
		return key
	}
	switch lang {
	case "ru":
		return v[1]
	case "kk":
		return v[2]
	}
	return v[0]
}

// statusWords are the register's statuses, the manual's words in Russian
// (ОТКЛОНЕН, ПОДТВЕРЖДЕН, ЗАВЕРШЕН, ВОЗВРАТ...): en, ru, kk.
var statusWords = map[order.Status][3]string{
	order.StatusRegistered: {"REGISTERED", "ЗАРЕГИСТРИРОВАН", "ТІРКЕЛДІ"},
	order.Status3DS:        {"3-D SECURE", "АУТЕНТИФИКАЦИЯ 3-D SECURE", "3-D SECURE ТЕКСЕРУІ"},
	order.StatusApproved:   {"APPROVED", "ПОДТВЕРЖДЕН", "РАСТАЛДЫ"},
	order.StatusDeposited:  {"COMPLETED", "ЗАВЕРШЕН", "АЯҚТАЛДЫ"},
	order.StatusReversed:   {"REVERSED", "ОТМЕНЕН", "ЖОЙЫЛДЫ"},
	order.StatusRefunded:   {"REFUNDED", "ВОЗВРАТ", "ҚАЙТАРЫЛДЫ"},
	order.StatusDeclined:   {"DECLINED", "ОТКЛОНЕН", "ҚАБЫЛДАНБАДЫ"},
}

// statusOrder is how the filter lists statuses.
var statusOrder = []order.Status{order.StatusDeclined, order.StatusApproved, order.StatusDeposited, order.StatusRefunded,
	order.StatusReversed, order.StatusRegistered, order.Status3DS}

// statusNames are statuses in the cabinet's URLs.
var statusNames = map[string]order.Status{
	"declined": order.StatusDeclined, "approved": order.StatusApproved, "deposited": order.StatusDeposited,
	"refunded": order.StatusRefunded, "reversed": order.StatusReversed, "registered": order.StatusRegistered, "3ds": order.Status3DS,
}

func statusParam(s order.Status) string {
	for k, v := range statusNames {
		if v == s {
			return k
		}
	}
	return ""
}

func statusWord(lang string, s order.Status) string {
	w, ok := statusWords[s]
	if !ok {
		return s.String()
	}
	return pick(lang, w)
}

func pick(lang string, w [3]string) string {
	switch lang {
	case "ru":
		return w[1]
	case "kk":
		return w[2]
	}
	return w[0]
}

// opWords name operation types in the history: en, ru, kk.
var opWords = map[order.OpType][3]string{
	order.OpAuthorization: {"Authorization", "Авторизация", "Авторизация"},
	order.OpPurchase:      {"Payment", "Списание", "Есептен шығару"},
	order.OpCompletion:    {"Completion", "Завершение", "Аяқтау"},
	order.OpReversal:      {"Cancel", "Отмена", "Болдырмау"},
	order.OpRefund:        {"Refund", "Рефанд", "Қайтару"},
	order.OpAutoReversal:  {"Automatic reversal", "Автоматическая отмена", "Автоматты болдырмау"},
	order.OpThreeDS:       {"3-D Secure", "3-D Secure", "3-D Secure"},
	order.OpExpire:        {"Session expired", "Время сессии истекло", "Сессия уақыты өтті"},
	order.OpDecline:       {"Declined by the shop", "Отклонен магазином", "Дүкен қабылдамады"},
}

func opWord(lang string, t order.OpType) string {
	if w, ok := opWords[t]; ok {
		return pick(lang, w)
	}
	return string(t)
}

// eventWords name audit events: en, ru, kk.
var eventWords = map[string][3]string{
	"sign_in":                {"Signed in", "Вход", "Кірді"},
	"sign_in_failed":         {"Sign-in failed", "Неудачный вход", "Сәтсіз кіру"},
	"sign_in_refused_locked": {"Sign-in refused: locked", "Вход отклонен: блокировка", "Кіру қабылданбады: бұғат"},
	"locked":                 {"Locked", "Заблокирован", "Бұғатталды"},
	"unlocked":               {"Unlocked", "Разблокирован", "Бұғаттан шығарылды"},
	"sign_out":               {"Signed out", "Выход", "Шықты"},
	"password_changed":       {"Password changed", "Пароль изменен", "Құпиясөз өзгертілді"},
	"password_change_failed": {"Password change refused", "Смена пароля отклонена", "Құпиясөзді өзгерту қабылданбады"},
	"password_reset":         {"Password reset", "Пароль сброшен", "Құпиясөз қалпына келтірілді"},
	"user_created":           {"User created", "Пользователь создан", "Пайдаланушы құрылды"},
	"user_disabled":          {"User disabled", "Пользователь отключен", "Пайдаланушы өшірілді"},
	"user_enabled":           {"User enabled", "Пользователь включен", "Пайдаланушы қосылды"},
	"settings_changed":       {"Settings changed", "Настройки изменены", "Баптаулар өзгертілді"},
	"complete":               {"Completion", "Завершение", "Аяқтау"},
	"cancel":                 {"Cancel", "Отмена", "Болдырмау"},
	"refund":                 {"Refund", "Возврат", "Қайтару"},
	"export":                 {"Export", "Выгрузка", "Жүктеп алу"},
	"denied":                 {"Access denied", "Доступ запрещен", "Кіру тыйым салынған"},
	"payment_link_created":   {"Payment link created", "Ссылка на оплату создана", "Төлем сілтемесі құрылды"},
	"payment_link_disabled":  {"Payment link switched off", "Ссылка на оплату отключена", "Төлем сілтемесі өшірілді"},
}

func eventWord(lang, kind string) string {
	if w, ok := eventWords[kind]; ok {
		return pick(lang, w)
	}
	return kind
}

// pickLang returns the first supported language of candidates, else "ru".
func pickLang(candidates ...string) string {
	for _, c := range candidates {
		c = strings.ToLower(strings.TrimSpace(c))
		if len(c) > 2 {
			c = c[:2]
		}
		if validLang(c) {
			return c
		}
	}
	return "ru"
}
