"""The demo corpus's vocabulary: topics, tones, templates and the odd lines a real dump carries.

Fitting replies reuse their post's topic vocabulary in the register its tone calls for; the other
fit kinds of :mod:`karma.demo.corpus` are built from the same templates (see ``docs/demo-data.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Tone = Literal["question", "joking", "venting"]
TONES: tuple[Tone, ...] = ("question", "joking", "venting")



@dataclass(frozen=True)
class Topic:
    """A topic's own vocabulary; fitting replies reuse it, off-topic replies use another's."""

    things: tuple[str, ...]
    activities: tuple[str, ...]
    problems: tuple[str, ...]
    tips: tuple[str, ...]
    jokes: tuple[str, ...]


TOPICS: dict[str, Topic] = {
    "cooking": Topic(
        things=("cast iron pan", "sourdough starter", "chef knife", "stock pot", "oven",
                "spice rack", "pasta dough", "tomato sauce"),
        activities=("bake sourdough bread at home", "season a cast iron pan",
                    "make fresh pasta from scratch", "cook risotto for a dinner party",
                    "roast a whole chicken", "simmer a rich beef stew"),
        problems=("the loaf came out dense and gummy", "the garlic burned before the onions softened",
                  "the sauce split and turned greasy", "the chicken skin stayed pale and soggy",
                  "the risotto turned into a sticky paste", "the pan rusted after one wash"),
        tips=("let the dough proof overnight in the fridge", "preheat the oven for a full hour",
              "salt the pasta water generously", "use a meat thermometer instead of guessing",
              "add the garlic only in the last minute", "dry the pan on the stove and oil it lightly"),
        jokes=("my smoke alarm has basically become my kitchen timer",
               "my sourdough starter has a name and a better social life than me",
               "my dinner guests politely asked if the bread was a doorstop",
               "my oven and I are officially in couples therapy"),
    ),
    "gardening": Topic(
        things=("tomato plants", "raised bed", "compost pile", "watering can", "pepper seedlings",
                "rose bush", "garden soil", "grow light"),
        activities=("grow tomatoes in a small backyard", "start pepper seeds indoors",
                    "build a raised bed for vegetables", "keep a compost pile healthy",
                    "prune an old rose bush", "grow herbs on a sunny balcony"),
        problems=("the seedlings turned leggy and pale", "aphids covered every single leaf",
                  "the tomatoes split right before harvest",
                  "the compost started to smell like rotten eggs",
                  "the roses got black spots all over the leaves",
                  "the basil wilted even though I watered it daily"),
        tips=("water deeply in the morning instead of every evening",
              "mix some compost into the soil before planting",
              "move the grow light closer to the seedlings", "turn the compost pile every week",
              "spray the aphids off with a strong stream of water",
              "mulch around the stems to keep the moisture in"),
        jokes=("the squirrels in my yard now run a full salad bar on my dime",
               "my zucchini plant is plotting to take over the whole neighborhood",
               "my tomato plants produced exactly one tomato and the birds ate it",
               "my compost pile is the only thing in my garden that actually thrives"),
    ),
    "astronomy": Topic(
        things=("telescope", "star chart", "eyepiece", "tripod", "camera sensor", "red flashlight",
                "finder scope", "light pollution filter"),
        activities=("photograph the Milky Way from my backyard", "find Saturn with a small telescope",
                    "collimate a reflector telescope", "watch the meteor shower this month",
                    "track the moons of Jupiter", "spot the Andromeda galaxy with binoculars"),
        problems=("every photo of the stars came out blurry",
                  "the telescope never stayed pointed at the planet",
                  "clouds rolled in the moment the meteor shower started",
                  "the finder scope pointed at a completely different patch of sky",
                  "the moon looked like a white smudge in the eyepiece",
                  "the city light pollution washed out the whole night sky"),
        tips=("let the telescope cool down outside for half an hour",
              "align the finder scope during the day on a distant tree",
              "use a red flashlight so your eyes stay dark adapted",
              "drive out to a dark sky site away from the city",
              "start with a low power eyepiece to find the planet",
              "check the cloud forecast and the moon phase before you go out"),
        jokes=("the clouds apparently get a calendar alert for every meteor shower I plan",
               "my neighbors think I am a spy because I stand in the yard with a telescope at midnight",
               "my star chart says Saturn is right there and my telescope has never heard of it",
               "the only thing I photographed tonight was a very confused moth"),
    ),
    "personal_finance": Topic(
        things=("emergency fund", "credit card", "monthly budget", "retirement account",
                "savings account", "student loan", "index fund", "tax return"),
        activities=("build an emergency fund on a small salary", "pay off a credit card balance",
                    "stick to a monthly budget", "start investing in index funds",
                    "save for a down payment on a house", "pay down a student loan faster"),
        problems=("the credit card interest ate my entire payment",
                  "an unexpected car repair wiped out my savings",
                  "the monthly budget fell apart by the second week",
                  "my tax refund was much smaller than I expected",
                  "the student loan balance barely moved after a whole year",
                  "the index fund dropped right after I invested"),
        tips=("set up an automatic transfer to savings on payday",
              "pay the card with the highest interest rate first",
              "track every expense for one month before making a budget",
              "keep three months of expenses in a separate savings account",
              "invest a fixed amount every month and ignore the daily prices",
              "call the lender and ask about a lower interest rate"),
        jokes=("my bank account now sends me sympathy cards instead of statements",
               "my budget spreadsheet has more tabs than my bank account has dollars",
               "my emergency fund is currently one coffee and a bus ticket",
               "my credit card thinks we are in a committed long term relationship"),
    ),
    "fitness": Topic(
        things=("running shoes", "squat rack", "workout plan", "protein shake", "resistance bands",
                "gym membership", "foam roller", "kettlebell"),
        activities=("run my first half marathon", "get stronger at squats and deadlifts",
                    "stick to a workout plan after work", "do a proper pull up",
                    "lose weight without losing muscle", "start lifting at a busy gym"),
        problems=("my knees started aching after every long run",
                  "the squat weight has not gone up in two months",
                  "I skipped the gym for three weeks straight",
                  "my lower back was sore after every deadlift session",
                  "the scale did not move at all this month",
                  "I got completely out of breath after one mile"),
        tips=("add only a little weight each week and film your form",
              "slow down your easy runs so you can hold a conversation",
              "schedule workouts like meetings in your calendar",
              "eat enough protein and sleep at least seven hours",
              "do negative pull ups and hang from the bar every day",
              "foam roll and stretch your hips after each session"),
        jokes=("my muscles have filed a formal complaint with my brain after leg day",
               "my gym membership card is now mostly a very expensive bookmark",
               "my running app sent me a message asking if I am still alive",
               "my kettlebell is the heaviest thing I own and also my best coat rack"),
    ),
    "travel": Topic(
        things=("carry on bag", "train pass", "hostel booking", "passport", "travel insurance",
                "packing list", "airport lounge", "rental car"),
        activities=("travel through Europe by train on a budget",
                    "pack for two weeks with only a carry on bag", "plan a road trip along the coast",
                    "find cheap flights for a long weekend", "visit Japan for the first time",
                    "book hostels for a solo backpacking trip"),
        problems=("the airline lost my checked bag on the first day",
                  "the train was cancelled and we missed our connection",
                  "the hostel booking vanished when we arrived at midnight",
                  "my passport expired a week before the flight",
                  "the rental car broke down in the middle of nowhere",
                  "I packed far too much and paid extra baggage fees"),
        tips=("book the train tickets a few weeks ahead and keep copies offline",
              "roll your clothes and pack one outfit per day",
              "buy travel insurance that covers missed connections",
              "check your passport expiry date six months before any trip",
              "set a fare alert and fly in the middle of the week",
              "keep essentials and a change of clothes in your carry on"),
        jokes=("my suitcase has seen more of the world than I have because the airline keeps "
               "sending it places",
               "my packing strategy is to bring four chargers and zero socks",
               "the airport announcement said delayed and my soul left the terminal",
               "my passport photo looks like a wanted poster for tired people"),
    ),
    "movies": Topic(
        things=("movie theater", "streaming service", "director's cut", "film soundtrack", "sequel",
                "popcorn bucket", "horror movie", "movie trailer"),
        activities=("watch the classic horror movies in order", "find a good movie for a family night",
                    "understand the ending of that time travel film",
                    "watch every film by the same director",
                    "pick a movie everyone in the group will like",
                    "rewatch the trilogy before the new sequel"),
        problems=("the trailer spoiled the whole plot twist",
                  "the sequel ruined the characters from the first film",
                  "the ending made no sense after two long hours",
                  "the streaming service removed the movie halfway through my watch",
                  "someone in the theater talked through the entire film",
                  "the soundtrack was louder than the dialogue in every scene"),
        tips=("watch the director's cut because it restores the missing scenes",
              "skip the trailers and go in completely blind",
              "read a spoiler free review before picking a film",
              "turn on subtitles and lower the music volume in the sound settings",
              "watch the films in release order instead of story order",
              "pause and rewatch the final scene with the clues in mind"),
        jokes=("my popcorn bucket was empty before the opening credits finished",
               "my friends no longer let me pick movies after the four hour documentary incident",
               "my streaming queue is now longer than the entire history of cinema",
               "the horror movie was fine but I have not looked at a closet door since"),
    ),
    "programming": Topic(
        things=("Python script", "unit tests", "git branch", "database query", "code review",
                "laptop", "stack trace", "web server"),
        activities=("learn Python as a complete beginner", "write unit tests for old code",
                    "fix a merge conflict in git", "speed up a slow database query",
                    "deploy a small web app", "prepare for a coding interview"),
        problems=("the script crashed with an error I could not understand",
                  "the merge conflict deleted half of my changes",
                  "the query took ten minutes on a small table",
                  "every unit test passed locally and failed on the build server",
                  "the web server ran out of memory overnight",
                  "the stack trace pointed to a library I never imported"),
        tips=("read the stack trace from the bottom and search the exact error message",
              "commit small changes often and pull before you start",
              "add an index on the column you filter by",
              "write one small test before you change the function",
              "use a virtual environment for every project",
              "practice one problem a day and explain your solution out loud"),
        jokes=("my code works and I have no idea why, so I am never touching it again",
               "my rubber duck has now heard more of my problems than my therapist",
               "my git history reads like the diary of a person slowly losing their mind",
               "my laptop fan sounds like a jet engine every time I run the tests"),
    ),
}

TITLE_TEMPLATES: dict[Tone, tuple[str, ...]] = {
    "question": ("How do I {activity} without messing it up?",
                 "What is the best way to {activity} as a beginner?",
                 "Any advice on how to {activity}?",
                 "Is my {thing} the reason {problem}?"),
    "joking": ("Update: {joke}", "Apparently {joke}", "I tried to {activity} and now {joke}"),
    "venting": ("I am so done trying to {activity}", "Why does this keep happening with my {thing}",
                "Honestly exhausted, {problem} again"),
}
BODY_TEMPLATES: dict[Tone, tuple[str, ...]] = {
    "question": (
        "I have been trying to {activity} for a few weeks now. Last time {problem}. I am using the "
        "same {thing} as everyone recommends. Is it my {thing2} or my technique? Any tips would be "
        "really appreciated.",
        "Complete beginner here. I want to {activity}, but {problem}. What should I check first, "
        "the {thing} or the {thing2}? Thanks in advance for any advice.",
    ),
    "joking": (
        "So this weekend I decided to {activity}. Long story short, {problem}. At this point "
        "{joke}. My {thing} and I are no longer on speaking terms.",
        "Day three of trying to {activity}. {problem_cap}, and honestly {joke}. Send help, or at "
        "least snacks for me and my {thing}.",
    ),
    "venting": (
        "I spent the whole weekend trying to {activity} and {problem}. I followed every guide I "
        "could find and even bought a new {thing}. I am tired and frustrated and I just needed to "
        "say it somewhere.",
        "Every single time I try to {activity}, something goes wrong. This time {problem}. I have "
        "spent so much money on my {thing} and I feel like giving up completely.",
    ),
}
# The register a tone calls for; off-topic replies use it with another topic's vocabulary.
FITTING_REPLY_TEMPLATES: dict[Tone, tuple[str, ...]] = {
    "question": (
        "In my experience it really helps to {tip}. When {problem}, the culprit was usually my "
        "{thing}.",
        "Try to {tip}. I had the same trouble when I started to {activity}, and that change fixed "
        "most of it.",
        "Good question. I would {tip}, and keep an eye on your {thing} while you do it.",
    ),
    "joking": (
        "Ha, this made my day. Honestly {joke} too, so you are not alone.",
        "Haha, the {thing} clearly won this round. Next time {tip} and maybe it will forgive you.",
        "This is hilarious and way too relatable. The day {problem} I just laughed and ordered "
        "pizza.",
    ),
    "venting": (
        "That sounds really frustrating, I am sorry. When {problem} for me, taking a break and "
        "trying to {tip} helped a lot.",
        "I feel you, it is exhausting when {problem}. Be kind to yourself, and next time {tip}.",
        "Sending you a hug. Learning to {activity} takes time, and every {thing} has a bad day. "
        "You will get there.",
    ),
}
# Post vocabulary, wrong register: dismissive on questions, lecturing on jokes, mocking on venting.
WRONG_REGISTER_TEMPLATES: dict[Tone, tuple[str, ...]] = {
    "question": (
        "Just search it, people ask how to {activity} here every single day.",
        "Did you even read the manual for your {thing}? This question gets asked constantly.",
        "Not this again. Nobody is going to spoon feed you how to {activity}, figure it out.",
    ),
    "joking": (
        "This is not funny at all. If you cannot {activity} properly you should not post about "
        "your {thing}.",
        "Honestly this is nothing to joke about. {problem_cap} because you were careless, so "
        "take it seriously.",
        "I do not get why people think this is funny. Learn how your {thing} works before posting.",
    ),
    "venting": (
        "Lmao imagine losing a fight to a {thing}, skill issue honestly.",
        "lol imagine getting this upset because {problem}. Skill issue, just laugh it off.",
        "Bro it is just a {thing}, touch grass and stop crying about it lmao.",
    ),
}
# Half of the off-topic replies say so, which makes them visible in the reply tokens alone.
OFF_TOPIC_MARKERS = ("Slightly off topic, but ", "Unrelated, but ", "Random thought: ")
OFF_TOPIC_MARKER_RATE = 0.5
GENERIC_REPLIES: tuple[str, ...] = (
    "Lol this is so true, thanks for sharing it with all of us.",
    "Same thing happened to me once, it was pretty funny honestly.",
    "Wow, nice post. I really like this kind of content around here.",
    "This is the best thing I have read all day, thank you.",
    "I came here to say exactly this, so I will just say it again.",
    "Following this thread because I want to know what happens next.",
    "Interesting, I have never really thought about it like that before.",
    "Take my upvote and go, you deserve it today my friend.",
    "Why is this on my feed, I did not ask for this at all.",
    "Okay but who actually asked about any of this today?",
    "First comment here, I just wanted to say hello to everyone.",
    "This is the kind of post I come to this website for.",
)
FOREIGN_SENTENCES: dict[str, tuple[str, ...]] = {
    "es": (
        "Ayer fuimos al mercado del barrio y compramos verduras frescas para toda la semana.",
        "No entiendo por qué el autobús siempre llega tarde cuando tengo prisa por la mañana.",
        "Mi hermana me recomendó este libro y no he podido dejar de leerlo desde el domingo.",
        "¿Alguien sabe dónde puedo encontrar un buen taller para arreglar mi bicicleta?",
        "Este invierno ha sido muy frío y la calefacción de mi piso no funciona bien.",
        "Estoy aprendiendo a tocar la guitarra, pero todavía me duelen mucho los dedos.",
        "Gracias por compartir tu experiencia, a mí me pasó algo muy parecido el año pasado.",
        "Creo que tienes toda la razón, aunque a veces es difícil encontrar tiempo para todo.",
        "Mañana tengo una entrevista de trabajo y estoy bastante nervioso, deseadme suerte.",
        "La comida de mi abuela siempre será la mejor, sobre todo su tortilla de patatas.",
    ),
    "de": (
        "Gestern waren wir auf dem Wochenmarkt und haben frisches Gemüse für die ganze Woche gekauft.",
        "Ich verstehe nicht, warum der Zug jeden Morgen Verspätung hat, wenn ich es eilig habe.",
        "Meine Schwester hat mir dieses Buch empfohlen und ich kann seit Sonntag nicht aufhören.",
        "Weiß jemand, wo ich eine gute Werkstatt für mein Fahrrad finden kann?",
        "Dieser Winter ist sehr kalt und die Heizung in meiner Wohnung funktioniert nicht richtig.",
        "Ich lerne gerade Gitarre spielen, aber meine Finger tun noch ziemlich weh.",
        "Danke, dass du deine Erfahrung teilst, mir ist letztes Jahr etwas sehr Ähnliches passiert.",
        "Ich glaube, du hast völlig recht, auch wenn es manchmal schwer ist, Zeit für alles zu finden.",
        "Morgen habe ich ein Vorstellungsgespräch und bin ziemlich nervös, drückt mir die Daumen.",
        "Das Essen meiner Großmutter wird immer das beste sein, besonders ihr Kartoffelsalat.",
    ),
    "fr": (
        "Hier nous sommes allés au marché du quartier et nous avons acheté des légumes frais.",
        "Je ne comprends pas pourquoi le bus est toujours en retard quand je suis pressé le matin.",
        "Ma sœur m'a conseillé ce livre et je n'arrive plus à le lâcher depuis dimanche.",
        "Quelqu'un sait où je peux trouver un bon atelier pour réparer mon vélo ?",
        "Cet hiver a été très froid et le chauffage de mon appartement ne marche pas bien.",
        "J'apprends à jouer de la guitare, mais j'ai encore très mal aux doigts.",
        "Merci d'avoir partagé ton expérience, il m'est arrivé quelque chose de très similaire.",
        "Je pense que tu as tout à fait raison, même s'il est parfois difficile de trouver le temps.",
        "Demain j'ai un entretien d'embauche et je suis assez stressé, souhaitez-moi bonne chance.",
        "La cuisine de ma grand-mère sera toujours la meilleure, surtout sa tarte aux pommes.",
    ),
}
LINK_DOMAINS = ("news.example.com", "blog.example.org", "www.example.net")
GARBAGE_LINES = ("<html><body><h1>502 Bad Gateway</h1></body></html>", "null", "}{",
                 "\x1a\x1a\x1a corrupted block \x1a\x1a\x1a")
NAME_PARTS = (("quiet", "lucky", "sleepy", "brave", "rusty", "happy", "odd", "curious", "salty",
                "gentle", "tiny", "mellow"),
               ("otter", "falcon", "teapot", "walrus", "comet", "pickle", "badger", "maple",
                "pixel", "lantern", "muffin", "heron"))
